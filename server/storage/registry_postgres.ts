/**
 * A {@linkcode Registry} in PostgreSQL, shared by several server instances
 * (the `postgres` driver from npm).
 *
 * ```text
 * clients(id bytea PK, name text UNIQUE, public_key bytea, registered_at bigint, last_seen bigint,
 *         dialect text)
 * files(client_id bytea FK, file_name text, location text, size bigint, cksum bigint,
 *       verified boolean, time bigint, sha256 text NULL, PK(client_id, file_name))
 * intents(id bigserial PK, client_id bytea, file_name text, location text, staging_ref text,
 *         size bigint, cksum bigint, instance_id text, holder text, created_at bigint,
 *         sha256 text NULL)
 * commit_locks(key text PK, holder text, acquired_at bigint)
 * partials(client_id bytea, file_name text, staging_ref text, size bigint, received bigint,
 *          prefix_sha256 text NULL, prefix_crc bigint NULL, instance_id text, kept_at bigint, PK(client_id, file_name))
 * ```
 *
 * What the engine enforces, so that any number of instances agree:
 *
 * | promise                         | how                                                                 |
 * | ------------------------------- | ------------------------------------------------------------------- |
 * | one name, one client            | `UNIQUE (name)`, `INSERT ... ON CONFLICT DO NOTHING`                |
 * | one commit per (client, name)   | a `commit_locks` row (primary key), deleted with the intent          |
 * | limits across instances         | the client's row locked (`FOR UPDATE`) while counting and recording |
 * | who is alive                    | each registry holds an advisory lock for its {@linkcode PostgresRegistry.holder} as long as its session lives |
 *
 * An instance that dies loses its session, so its liveness lock goes at once,
 * with no heartbeat to tune: {@linkcode PostgresRegistry.pendingCommits}
 * returns the intents of holders whose lock can be taken, that is of dead
 * instances only, and a commit lock row of a dead holder may be taken over.
 * The liveness session is a connection of its own, checked every few seconds
 * and its lock taken again if PostgreSQL lost it (a restart, a cut link).
 *
 * @example
 * ```ts ignore
 * const registry = await PostgresRegistry.open("postgres://ft@127.0.0.1:5432/ft");
 * console.log(await registry.listClients());
 * await registry.close();
 * ```
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import postgres from "postgres";
import { bytesToHex, type ClientId, clientIdToHex } from "../../protocol/mod.ts";
import { RegistryError } from "../errors.ts";
import { redactUrl } from "./redact_url.ts";
import type { Family } from "../../protocol/dialects/mod.ts";
import {
  type ClientRecord,
  type CommitIntent,
  type CommitStart,
  type FileLimits,
  type FilePage,
  type FileRecord,
  type PartialUpload,
  type PendingCommit,
  type Registry,
  storedDialect,
  type Usage,
} from "./registry.ts";

/** The schema version this code writes (kept in `ft_schema`). */
export const POSTGRES_SCHEMA_VERSION = 1;

/** Advisory lock namespace (first int4 key) of instance liveness locks. */
const LIVENESS_NAMESPACE = 0x4654; // "FT"
/** Advisory lock (single bigint key) serialising schema creation. */
const SCHEMA_LOCK = 0x46545343_48454d41n; // "FTSCHEMA"

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ft_schema (version integer NOT NULL);
CREATE TABLE IF NOT EXISTS clients (
  id bytea PRIMARY KEY,
  name text NOT NULL UNIQUE,
  public_key bytea NOT NULL,
  registered_at bigint NOT NULL,
  last_seen bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
  client_id bytea NOT NULL REFERENCES clients(id),
  file_name text NOT NULL,
  location text NOT NULL,
  size bigint NOT NULL,
  cksum bigint NOT NULL,
  verified boolean NOT NULL,
  time bigint NOT NULL,
  PRIMARY KEY (client_id, file_name)
);
CREATE TABLE IF NOT EXISTS intents (
  id bigserial PRIMARY KEY,
  client_id bytea NOT NULL,
  file_name text NOT NULL,
  location text NOT NULL,
  staging_ref text NOT NULL,
  size bigint NOT NULL,
  cksum bigint NOT NULL,
  instance_id text NOT NULL,
  holder text NOT NULL,
  created_at bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS intents_client ON intents (client_id);
CREATE TABLE IF NOT EXISTS commit_locks (
  key text PRIMARY KEY,
  holder text NOT NULL,
  acquired_at bigint NOT NULL
);
-- Added after version 1, created if missing: NULL in older rows.
ALTER TABLE files ADD COLUMN IF NOT EXISTS sha256 text;
ALTER TABLE intents ADD COLUMN IF NOT EXISTS sha256 text;
-- Added after version 1, created if missing: cut uploads kept for a resume (issue 20).
CREATE TABLE IF NOT EXISTS partials (
  client_id bytea NOT NULL,
  file_name text NOT NULL,
  staging_ref text NOT NULL,
  size bigint NOT NULL,
  received bigint NOT NULL,
  prefix_sha256 text,
  prefix_crc bigint,
  instance_id text NOT NULL,
  kept_at bigint NOT NULL,
  PRIMARY KEY (client_id, file_name)
);
`;

/**
 * The family of dialects a client registered in (issue 22): added where it
 * is missing, existing clients being family A.
 */
const ADD_DIALECT =
  "ALTER TABLE clients ADD COLUMN IF NOT EXISTS dialect text NOT NULL DEFAULT 'A'";

type Sql = postgres.Sql;
type Row = postgres.Row;

/** Default for {@linkcode PostgresRegistryOptions.livenessCheckMs}. */
export const DEFAULT_LIVENESS_CHECK_MS = 5_000;

/** How to open the registry. */
export interface PostgresRegistryOptions {
  /** Most connections to the server for requests, besides the liveness session. Default 10. */
  maxConnections?: number;
  /**
   * How often the session holding the liveness lock is checked, and the lock
   * taken again on a new session if PostgreSQL lost it (a restart, a cut
   * connection). Default 5 s.
   */
  livenessCheckMs?: number;
}

const logger = getLogger(["server", "registry"]);

function toPartial(row: Row): PartialUpload {
  return {
    clientId: new Uint8Array(row.client_id),
    fileName: row.file_name,
    stagingRef: row.staging_ref,
    size: Number(row.size),
    received: Number(row.received),
    prefixSha256: row.prefix_sha256 ?? null,
    prefixCrc: row.prefix_crc === null || row.prefix_crc === undefined
      ? null
      : Number(row.prefix_crc),
    instanceId: row.instance_id,
    keptAt: Number(row.kept_at),
  };
}

function toClient(row: Row): ClientRecord {
  return {
    id: new Uint8Array(row.id),
    name: row.name,
    publicKey: new Uint8Array(row.public_key),
    registeredAt: Number(row.registered_at),
    lastSeen: Number(row.last_seen),
    dialect: storedDialect(row.dialect),
  };
}

function toFile(row: Row): FileRecord {
  return {
    clientId: new Uint8Array(row.client_id),
    fileName: row.file_name,
    location: row.location,
    size: Number(row.size),
    cksum: Number(row.cksum),
    sha256: row.sha256 ?? null,
    verified: row.verified,
    time: Number(row.time),
  };
}

function toIntent(row: Row): PendingCommit {
  return {
    id: String(row.id),
    clientId: new Uint8Array(row.client_id),
    fileName: row.file_name,
    location: row.location,
    stagingRef: row.staging_ref,
    size: Number(row.size),
    cksum: Number(row.cksum),
    sha256: row.sha256 ?? null,
    instanceId: row.instance_id,
  };
}

function commitLockKey(clientId: ClientId, fileName: string): string {
  return `${clientIdToHex(clientId)}/${fileName}`;
}

/**
 * The driver's options, every one given: the driver would otherwise read
 * `PG*` environment variables (and the OS user name) for each one missing,
 * which the server is not allowed to (only `PGAPPNAME` is read regardless).
 */
export function driverOptions(url: string, max: number): postgres.Options<Record<string, never>> {
  let password = "";
  let user = "postgres";
  let query = new URLSearchParams();
  try {
    const parsed = new URL(url);
    password = decodeURIComponent(parsed.password);
    if (parsed.username !== "") user = decodeURIComponent(parsed.username);
    query = parsed.searchParams;
  } catch {
    // The driver reports an unparsable URL itself.
  }
  const settings: Record<string, unknown> = {
    max,
    ssl: false,
    sslnegotiation: null,
    idle_timeout: 0,
    connect_timeout: 10,
    max_lifetime: null,
    max_pipeline: 100,
    backoff: (retries: number) => Math.min(0.1 * 2 ** retries, 5),
    keep_alive: 60,
    prepare: true,
    debug: false,
    fetch_types: true,
    publications: "alltables",
  };
  // What the URL says (`?sslmode=require`, ...) wins over these defaults.
  if (query.has("sslmode")) delete settings.ssl;
  for (const key of query.keys()) delete settings[key];
  return {
    ...settings,
    user,
    pass: () => password,
    target_session_attrs: "read-write",
    onnotice: () => {},
    connection: { application_name: "file-transfer-server" },
  } as postgres.Options<Record<string, never>>;
}

/** How long a commit waits between two tries for a (client, file name) lock held elsewhere. */
const LOCK_RETRY_MS = 25;

/** The registry in PostgreSQL. */
export class PostgresRegistry implements Registry {
  /** This registry's liveness identity: intents and commit locks it records carry it. */
  readonly holder: string;
  #sql: Sql;
  #liveness: Sql;
  #watch: ReturnType<typeof setInterval>;
  #checking = false;

  private constructor(sql: Sql, liveness: Sql, holder: string, checkMs: number) {
    this.#sql = sql;
    this.#liveness = liveness;
    this.holder = holder;
    this.#watch = setInterval(() => this.#checkLiveness(), checkMs);
    Deno.unrefTimer(Number(this.#watch)); // a forgotten close() must not keep the process up
  }

  /**
   * Connects, creates the tables if needed (safe when several instances
   * start at once) and takes this instance's liveness lock.
   *
   * @throws {RegistryError} `Cannot open registry <url>: <reason>` when the
   * server is unreachable, refuses the login, or the schema is newer.
   */
  static async open(url: string, options: PostgresRegistryOptions = {}): Promise<PostgresRegistry> {
    const sql = postgres(url, driverOptions(url, options.maxConnections ?? 10));
    // One session of its own, kept open, holds the liveness lock.
    const liveness = postgres(url, driverOptions(url, 1));
    const holder = bytesToHex(crypto.getRandomValues(new Uint8Array(8)));
    try {
      await sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK.toString()}::bigint)`;
        await tx.unsafe(SCHEMA);
        await tx.unsafe(ADD_DIALECT);
        const [row] = await tx`SELECT max(version) AS version FROM ft_schema`;
        const version = row?.version == null ? undefined : Number(row.version);
        if (version === undefined) {
          await tx`INSERT INTO ft_schema (version) VALUES (${POSTGRES_SCHEMA_VERSION})`;
        } else if (version > POSTGRES_SCHEMA_VERSION) {
          throw new Error(
            `its schema is version ${version}, newer than this server's ${POSTGRES_SCHEMA_VERSION}`,
          );
        }
      });
      await liveness`SELECT pg_advisory_lock(${LIVENESS_NAMESPACE}, hashtext(${holder}))`;
    } catch (error) {
      await liveness.end({ timeout: 1 }).catch(() => {});
      await sql.end({ timeout: 1 }).catch(() => {});
      const reason = error instanceof Error ? error.message : String(error);
      throw new RegistryError(`Cannot open registry ${redactUrl(url)}: ${reason}`, {
        cause: error,
      });
    }
    return new PostgresRegistry(
      sql,
      liveness,
      holder,
      options.livenessCheckMs ?? DEFAULT_LIVENESS_CHECK_MS,
    );
  }

  /**
   * Takes this instance's liveness lock again if its session lost it (the
   * driver opens a new session silently, without the old one's locks).
   */
  async #checkLiveness(): Promise<void> {
    if (this.#checking) return;
    this.#checking = true;
    try {
      const [row] = await this.#liveness`
        SELECT EXISTS (
          SELECT 1 FROM pg_locks
          WHERE locktype = 'advisory' AND granted AND pid = pg_backend_pid()
            AND classid = ${LIVENESS_NAMESPACE} AND objid::int = hashtext(${this.holder})
        ) AS held`;
      if (row?.held !== true) {
        await this
          .#liveness`SELECT pg_advisory_lock(${LIVENESS_NAMESPACE}, hashtext(${this.holder}))`;
        logger.warn("Lost the PostgreSQL session that shows this instance alive; took it again");
      }
    } catch (error) {
      logger.error("Cannot show this instance alive in PostgreSQL: {error}", { error });
    } finally {
      this.#checking = false;
    }
  }

  /** Whether the registry instance `holder` still has its session (always true for this one). */
  async isAlive(holder: string): Promise<boolean> {
    if (holder === this.holder) return true;
    return await this.#sql.begin(async (tx) => {
      const [row] = await tx`
        SELECT pg_try_advisory_xact_lock(${LIVENESS_NAMESPACE}, hashtext(${holder})) AS free`;
      return row?.free !== true;
    });
  }

  async addClient(
    client: { id: ClientId; name: string; publicKey: Uint8Array; dialect?: Family },
  ): Promise<boolean> {
    const now = Date.now();
    const dialect = client.dialect ?? "A";
    const rows = await this.#sql`
      INSERT INTO clients (id, name, public_key, registered_at, last_seen, dialect)
      VALUES (${client.id}, ${client.name}, ${client.publicKey}, ${now}, ${now}, ${dialect})
      ON CONFLICT DO NOTHING RETURNING id`;
    return rows.length === 1;
  }

  async clientByName(name: string): Promise<ClientRecord | undefined> {
    const [row] = await this.#sql`SELECT * FROM clients WHERE name = ${name}`;
    return row === undefined ? undefined : toClient(row);
  }

  async clientById(id: ClientId): Promise<ClientRecord | undefined> {
    const [row] = await this.#sql`SELECT * FROM clients WHERE id = ${id}`;
    return row === undefined ? undefined : toClient(row);
  }

  async touchClient(id: ClientId): Promise<void> {
    await this.#sql`UPDATE clients SET last_seen = ${Date.now()} WHERE id = ${id}`;
  }

  async usage(clientId: ClientId): Promise<Usage> {
    const [row] = await this.#sql`
      SELECT count(*) AS files, coalesce(sum(size), 0) AS bytes,
        (SELECT coalesce(sum(received), 0) FROM partials WHERE client_id = ${clientId})
          AS partial_bytes
      FROM files WHERE client_id = ${clientId}`;
    return {
      files: Number(row?.files ?? 0),
      bytes: Number(row?.bytes ?? 0),
      partialBytes: Number(row?.partial_bytes ?? 0),
    };
  }

  async keepPartial(partial: PartialUpload): Promise<string | undefined> {
    return await this.#sql.begin(async (tx) => {
      const [old] = await tx`
        SELECT staging_ref FROM partials
        WHERE client_id = ${partial.clientId} AND file_name = ${partial.fileName} FOR UPDATE`;
      await tx`
        INSERT INTO partials (client_id, file_name, staging_ref, size, received, prefix_sha256,
                              prefix_crc, instance_id, kept_at)
        VALUES (${partial.clientId}, ${partial.fileName}, ${partial.stagingRef}, ${partial.size},
                ${partial.received}, ${partial.prefixSha256}, ${partial.prefixCrc},
                ${partial.instanceId}, ${partial.keptAt})
        ON CONFLICT (client_id, file_name) DO UPDATE SET
          staging_ref = excluded.staging_ref, size = excluded.size, received = excluded.received,
          prefix_sha256 = excluded.prefix_sha256, prefix_crc = excluded.prefix_crc,
          instance_id = excluded.instance_id, kept_at = excluded.kept_at`;
      const ref = old?.staging_ref as string | undefined;
      return ref === partial.stagingRef ? undefined : ref;
    });
  }

  async partial(clientId: ClientId, fileName: string): Promise<PartialUpload | undefined> {
    const [row] = await this.#sql`
      SELECT * FROM partials WHERE client_id = ${clientId} AND file_name = ${fileName}`;
    return row === undefined ? undefined : toPartial(row);
  }

  async takePartial(clientId: ClientId, fileName: string): Promise<PartialUpload | undefined> {
    const [row] = await this.#sql`
      DELETE FROM partials WHERE client_id = ${clientId} AND file_name = ${fileName}
      RETURNING *`;
    return row === undefined ? undefined : toPartial(row);
  }

  async listPartials(): Promise<PartialUpload[]> {
    return (await this.#sql`SELECT * FROM partials ORDER BY kept_at`).map(toPartial);
  }

  async file(clientId: ClientId, fileName: string): Promise<FileRecord | undefined> {
    const [row] = await this.#sql`
      SELECT * FROM files WHERE client_id = ${clientId} AND file_name = ${fileName}`;
    return row === undefined ? undefined : toFile(row);
  }

  async clientFiles(clientId: ClientId, page: FilePage): Promise<FileRecord[]> {
    // COLLATE "C": byte order of the UTF-8, as SQLite's BINARY.
    const rows = page.after === undefined
      ? await this.#sql`
          SELECT * FROM files WHERE client_id = ${clientId}
          ORDER BY file_name COLLATE "C" LIMIT ${page.limit}`
      : await this.#sql`
          SELECT * FROM files WHERE client_id = ${clientId}
            AND file_name COLLATE "C" > ${page.after}
          ORDER BY file_name COLLATE "C" LIMIT ${page.limit}`;
    return rows.map(toFile);
  }

  async beginCommit(intent: CommitIntent, limits: FileLimits): Promise<CommitStart> {
    const key = commitLockKey(intent.clientId, intent.fileName);
    await this.#lock(key);
    try {
      const start = await this.#recordIntent(intent, limits);
      if ("refused" in start) await this.#unlock(key);
      return start;
    } catch (error) {
      await this.#unlock(key).catch(() => {});
      throw error;
    }
  }

  /**
   * Takes the (client, file name) lock: a `commit_locks` row. Waits while a
   * live instance holds it; takes it over from a dead one.
   */
  async #lock(key: string): Promise<void> {
    while (true) {
      const taken = await this.#sql`
        INSERT INTO commit_locks (key, holder, acquired_at)
        VALUES (${key}, ${this.holder}, ${Date.now()})
        ON CONFLICT DO NOTHING RETURNING key`;
      if (taken.length === 1) return;
      const [row] = await this.#sql`SELECT holder FROM commit_locks WHERE key = ${key}`;
      if (row !== undefined && !await this.isAlive(row.holder)) {
        await this.#sql`DELETE FROM commit_locks WHERE key = ${key} AND holder = ${row.holder}`;
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
    }
  }

  async #unlock(key: string): Promise<void> {
    await this.#sql`DELETE FROM commit_locks WHERE key = ${key} AND holder = ${this.holder}`;
  }

  /** In one transaction: locks the client's row, checks the limits, records the intent. */
  async #recordIntent(intent: CommitIntent, limits: FileLimits): Promise<CommitStart> {
    return await this.#sql.begin(async (tx) => {
      const [client] = await tx`SELECT id FROM clients WHERE id = ${intent.clientId} FOR UPDATE`;
      if (client === undefined) {
        throw new RangeError(
          `Cannot commit ${intent.fileName}: client ${
            clientIdToHex(intent.clientId)
          } is not registered`,
        );
      }
      const [row] = await tx`
        SELECT
          (SELECT count(*) FROM files WHERE client_id = ${intent.clientId}
             AND file_name <> ${intent.fileName}) +
          (SELECT count(*) FROM intents WHERE client_id = ${intent.clientId}
             AND file_name <> ${intent.fileName}) AS files,
          (SELECT coalesce(sum(size), 0) FROM files WHERE client_id = ${intent.clientId}
             AND file_name <> ${intent.fileName}) +
          (SELECT coalesce(sum(size), 0) FROM intents WHERE client_id = ${intent.clientId}
             AND file_name <> ${intent.fileName}) +
          (SELECT coalesce(sum(received), 0) FROM partials WHERE client_id = ${intent.clientId}
             AND file_name <> ${intent.fileName}) AS bytes`;
      const files = Number(row?.files ?? 0) + 1;
      const bytes = Number(row?.bytes ?? 0) + intent.size;
      if (files > limits.maxFiles) return { refused: "files" } as const;
      if (bytes > limits.maxBytes) return { refused: "bytes" } as const;
      const [inserted] = await tx`
        INSERT INTO intents (client_id, file_name, location, staging_ref, size, cksum,
                             instance_id, holder, created_at, sha256)
        VALUES (${intent.clientId}, ${intent.fileName}, ${intent.location}, ${intent.stagingRef},
                ${intent.size}, ${intent.cksum}, ${intent.instanceId}, ${this.holder},
                ${Date.now()}, ${intent.sha256})
        RETURNING id`;
      return { id: String(inserted!.id) };
    });
  }

  async finishCommit(id: string): Promise<void> {
    await this.#sql.begin(async (tx) => {
      const [intent] = await tx`DELETE FROM intents WHERE id = ${id} RETURNING *`;
      if (intent === undefined) {
        throw new RangeError(`Cannot finish commit ${id}: no such intent`);
      }
      await tx`
        INSERT INTO files (client_id, file_name, location, size, cksum, verified, time, sha256)
        VALUES (${intent.client_id}, ${intent.file_name}, ${intent.location}, ${intent.size},
                ${intent.cksum}, true, ${Date.now()}, ${intent.sha256})
        ON CONFLICT (client_id, file_name) DO UPDATE SET
          location = excluded.location, size = excluded.size, cksum = excluded.cksum,
          verified = true, time = excluded.time, sha256 = excluded.sha256`;
      await tx`
        DELETE FROM commit_locks
        WHERE key = ${commitLockKey(new Uint8Array(intent.client_id), intent.file_name)}
          AND holder = ${intent.holder}`;
    });
  }

  async abandonCommit(id: string): Promise<void> {
    await this.#sql.begin(async (tx) => {
      const [intent] = await tx`DELETE FROM intents WHERE id = ${id} RETURNING *`;
      if (intent === undefined) return;
      await tx`
        DELETE FROM commit_locks
        WHERE key = ${commitLockKey(new Uint8Array(intent.client_id), intent.file_name)}
          AND holder = ${intent.holder}`;
    });
  }

  async pendingCommits(): Promise<PendingCommit[]> {
    const holders = await this.#sql`SELECT DISTINCT holder FROM intents`;
    const dead: string[] = [];
    for (const { holder } of holders) {
      if (!await this.isAlive(holder)) dead.push(holder);
    }
    if (dead.length === 0) return [];
    const rows = await this.#sql`
      SELECT * FROM intents WHERE holder IN ${this.#sql(dead)} ORDER BY id`;
    return rows.map(toIntent);
  }

  async listClients(): Promise<Array<ClientRecord & Usage>> {
    const rows = await this.#sql`
      SELECT clients.*, count(files.file_name) AS files, coalesce(sum(files.size), 0) AS bytes,
        (SELECT coalesce(sum(received), 0) FROM partials WHERE partials.client_id = clients.id)
          AS partial_bytes
      FROM clients LEFT JOIN files ON files.client_id = clients.id
      GROUP BY clients.id ORDER BY clients.name`;
    return rows.map((row) => ({
      ...toClient(row),
      files: Number(row.files),
      bytes: Number(row.bytes),
      partialBytes: Number(row.partial_bytes),
    }));
  }

  async listFiles(clientName?: string): Promise<Array<FileRecord & { clientName: string }>> {
    const rows = clientName === undefined
      ? await this.#sql`
          SELECT files.*, clients.name AS client_name
          FROM files JOIN clients ON clients.id = files.client_id
          ORDER BY clients.name, files.file_name`
      : await this.#sql`
          SELECT files.*, clients.name AS client_name
          FROM files JOIN clients ON clients.id = files.client_id
          WHERE clients.name = ${clientName} ORDER BY files.file_name`;
    return rows.map((row) => ({ ...toFile(row), clientName: row.client_name }));
  }

  async forgetClient(
    name: string,
  ): Promise<{ client: ClientRecord; files: FileRecord[] } | undefined> {
    return await this.#sql.begin(async (tx) => {
      const [row] = await tx`SELECT * FROM clients WHERE name = ${name} FOR UPDATE`;
      if (row === undefined) return undefined;
      const client = toClient(row);
      const files = (await tx`DELETE FROM files WHERE client_id = ${client.id} RETURNING *`)
        .map(toFile);
      await tx`DELETE FROM partials WHERE client_id = ${client.id}`;
      await tx`DELETE FROM clients WHERE id = ${client.id}`;
      return { client, files };
    });
  }

  async forgetUnusedClients(seenBefore: number): Promise<string[]> {
    const rows = await this.#sql`
      DELETE FROM clients
      WHERE last_seen < ${seenBefore}
        AND NOT EXISTS (SELECT 1 FROM files WHERE files.client_id = clients.id)
        AND NOT EXISTS (SELECT 1 FROM intents WHERE intents.client_id = clients.id)
      RETURNING name`;
    return rows.map((row) => String(row.name));
  }

  async close(): Promise<void> {
    clearInterval(this.#watch);
    await this.#sql`DELETE FROM commit_locks WHERE holder = ${this.holder}`.catch(() => {});
    await this.#sql.end({ timeout: 5 });
    await this.#liveness.end({ timeout: 5 });
  }
}
