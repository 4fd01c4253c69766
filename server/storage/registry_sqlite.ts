/**
 * The default {@linkcode Registry}: one SQLite file (`node:sqlite`, WAL
 * mode), for a single server.
 *
 * ```text
 * clients(id BLOB PK, name TEXT UNIQUE, public_key BLOB, registered_at INTEGER, last_seen INTEGER,
 *         dialect TEXT)
 * files(client_id BLOB, file_name TEXT, location TEXT, size INTEGER, cksum INTEGER,
 *       verified INTEGER, time INTEGER, sha256 TEXT NULL, PK(client_id, file_name))
 * intents(id INTEGER PK, client_id BLOB, file_name TEXT, location TEXT, staging_ref TEXT,
 *         size INTEGER, cksum INTEGER, instance_id TEXT, created_at INTEGER, sha256 TEXT NULL)
 * partials(client_id BLOB, file_name TEXT, staging_ref TEXT, size INTEGER, received INTEGER,
 *          prefix_sha256 TEXT NULL, prefix_crc INTEGER NULL, instance_id TEXT, kept_at INTEGER, PK(client_id, file_name))
 * ```
 *
 * Columns added after version 2 are additive: created when missing on an
 * existing database, `NULL` in older rows (a file stored before SHA-256s
 * were recorded has none).
 *
 * Times are milliseconds since the epoch. The schema version is kept in
 * `PRAGMA user_version`; a database of the first version (clients without a
 * key, `files.path`) is migrated when opened: clients whose key never came
 * are dropped (a name reserves nothing without its key), `registered_at`
 * starts as the last time seen, and locations become `<id hex>/<name>`.
 *
 * The database and its `-wal` and `-shm` files are made 0600 whatever the
 * umask. The per-(client, file name) commit lock is held in this process:
 * one SQLite file serves one server.
 *
 * @example
 * ```ts
 * import { SqliteRegistry } from "./registry_sqlite.ts";
 *
 * const registry = await SqliteRegistry.open(":memory:");
 * const id = crypto.getRandomValues(new Uint8Array(16));
 * console.log(await registry.addClient({ id, name: "Alice", publicKey: new Uint8Array(160) }));
 * await registry.close();
 * ```
 *
 * @module
 */

import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { type ClientId, clientIdToHex } from "../../protocol/mod.ts";
import { RegistryError } from "../errors.ts";
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

/** The schema version this code writes. */
export const SCHEMA_VERSION = 2;

const CLIENTS_COLUMNS = `(
  id BLOB PRIMARY KEY NOT NULL,
  name TEXT NOT NULL UNIQUE,
  public_key BLOB NOT NULL,
  registered_at INTEGER NOT NULL,
  last_seen INTEGER NOT NULL
)`;
const FILES_COLUMNS = `(
  client_id BLOB NOT NULL REFERENCES clients(id),
  file_name TEXT NOT NULL,
  location TEXT NOT NULL,
  size INTEGER NOT NULL,
  cksum INTEGER NOT NULL,
  verified INTEGER NOT NULL,
  time INTEGER NOT NULL,
  PRIMARY KEY (client_id, file_name)
)`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS clients ${CLIENTS_COLUMNS};
CREATE TABLE IF NOT EXISTS files ${FILES_COLUMNS};
CREATE TABLE IF NOT EXISTS intents (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  client_id BLOB NOT NULL,
  file_name TEXT NOT NULL,
  location TEXT NOT NULL,
  staging_ref TEXT NOT NULL,
  size INTEGER NOT NULL,
  cksum INTEGER NOT NULL,
  instance_id TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
`;

/** Added after version 2, created if missing: cut uploads kept for a resume (issue 20). */
const PARTIALS = `
CREATE TABLE IF NOT EXISTS partials (
  client_id BLOB NOT NULL,
  file_name TEXT NOT NULL,
  staging_ref TEXT NOT NULL,
  size INTEGER NOT NULL,
  received INTEGER NOT NULL,
  prefix_sha256 TEXT,
  prefix_crc INTEGER,
  instance_id TEXT NOT NULL,
  kept_at INTEGER NOT NULL,
  PRIMARY KEY (client_id, file_name)
);
`;

/** From version 1 (clients without a key, files.path) to version 2. */
const MIGRATE_FROM_1 = `
CREATE TABLE clients_v2 ${CLIENTS_COLUMNS};
INSERT INTO clients_v2 (id, name, public_key, registered_at, last_seen)
  SELECT id, name, public_key, last_seen, last_seen FROM clients WHERE public_key IS NOT NULL;
CREATE TABLE files_v2 ${FILES_COLUMNS};
INSERT INTO files_v2 (client_id, file_name, location, size, cksum, verified, time)
  SELECT client_id, file_name, lower(hex(client_id)) || '/' || file_name, size, cksum, verified, time
  FROM files WHERE client_id IN (SELECT id FROM clients_v2);
DROP TABLE files;
DROP TABLE clients;
ALTER TABLE clients_v2 RENAME TO clients;
ALTER TABLE files_v2 RENAME TO files;
`;

type Row = Record<string, unknown>;

function bytes(value: unknown): Uint8Array {
  return new Uint8Array(value as Uint8Array);
}

function toClient(row: Row): ClientRecord {
  return {
    id: bytes(row.id),
    name: row.name as string,
    publicKey: bytes(row.public_key),
    registeredAt: Number(row.registered_at),
    lastSeen: Number(row.last_seen),
    dialect: storedDialect(row.dialect),
  };
}

function toFile(row: Row): FileRecord {
  return {
    clientId: bytes(row.client_id),
    fileName: row.file_name as string,
    location: row.location as string,
    size: Number(row.size),
    cksum: Number(row.cksum),
    sha256: (row.sha256 ?? null) as string | null,
    verified: Number(row.verified) !== 0,
    time: Number(row.time),
  };
}

function toIntent(row: Row): PendingCommit {
  return {
    id: String(row.id),
    clientId: bytes(row.client_id),
    fileName: row.file_name as string,
    location: row.location as string,
    stagingRef: row.staging_ref as string,
    size: Number(row.size),
    cksum: Number(row.cksum),
    sha256: (row.sha256 ?? null) as string | null,
    instanceId: row.instance_id as string,
  };
}

function toPartial(row: Row): PartialUpload {
  return {
    clientId: bytes(row.client_id),
    fileName: row.file_name as string,
    stagingRef: row.staging_ref as string,
    size: Number(row.size),
    received: Number(row.received),
    prefixSha256: (row.prefix_sha256 ?? null) as string | null,
    prefixCrc: row.prefix_crc === null || row.prefix_crc === undefined
      ? null
      : Number(row.prefix_crc),
    instanceId: row.instance_id as string,
    keptAt: Number(row.kept_at),
  };
}

function lockKey(clientId: ClientId, fileName: string): string {
  return `${clientIdToHex(clientId)}/${fileName}`;
}

/** Makes the database files 0600 (those that exist). */
async function makePrivate(path: string): Promise<void> {
  if (Deno.build.os === "windows" || path === ":memory:") return;
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    await Deno.chmod(file, 0o600).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}

/** Creates the database file 0600 before SQLite opens it, so it is never readable by others. */
async function createPrivate(path: string): Promise<void> {
  if (path === ":memory:") return;
  try {
    (await Deno.open(path, { write: true, createNew: true, mode: 0o600 })).close();
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
}

/** The clients and files registry over one SQLite file. */
export class SqliteRegistry implements Registry {
  #db: DatabaseSync;
  #statements = new Map<string, StatementSync>();
  /** Commit locks: settles on release, per `<id hex>/<file name>`. */
  #locks = new Map<string, Promise<void>>();
  #releases = new Map<string, () => void>();

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /**
   * Opens (creating if needed, migrating an older schema) the database at
   * `path`, in WAL mode, its files 0600.
   *
   * @throws {RegistryError} `Cannot open database <path>: <reason>` if the
   * file is locked, corrupt or not a database.
   */
  static async open(path: string): Promise<SqliteRegistry> {
    let db: DatabaseSync | undefined;
    try {
      await createPrivate(path);
      // Foreign keys are enforced once the schema is migrated (tables are swapped).
      db = new DatabaseSync(path, { timeout: 2000, enableForeignKeyConstraints: false });
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
      migrate(db);
      addMissingColumns(db);
      db.exec(PARTIALS);
      db.exec("PRAGMA foreign_keys = ON");
      db.prepare("SELECT count(*) FROM clients").get();
      await makePrivate(path);
    } catch (error) {
      try {
        db?.close();
      } catch { /* already failing */ }
      const reason = error instanceof Error ? error.message : String(error);
      throw new RegistryError(`Cannot open database ${path}: ${reason}`, { cause: error });
    }
    return new SqliteRegistry(db);
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.#statement(sql).get(...params) as Row | undefined;
  }

  #all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.#statement(sql).all(...params) as Row[];
  }

  #run(sql: string, ...params: SQLInputValue[]): number {
    return Number(this.#statement(sql).run(...params).changes);
  }

  addClient(
    client: { id: ClientId; name: string; publicKey: Uint8Array; dialect?: Family },
  ): Promise<boolean> {
    const now = Date.now();
    return Promise.resolve(
      this.#run(
        `INSERT INTO clients (id, name, public_key, registered_at, last_seen, dialect)
         VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        client.id,
        client.name,
        client.publicKey,
        now,
        now,
        client.dialect ?? "A",
      ) === 1,
    );
  }

  clientByName(name: string): Promise<ClientRecord | undefined> {
    const row = this.#get("SELECT * FROM clients WHERE name = ?", name);
    return Promise.resolve(row === undefined ? undefined : toClient(row));
  }

  clientById(id: ClientId): Promise<ClientRecord | undefined> {
    const row = this.#get("SELECT * FROM clients WHERE id = ?", id);
    return Promise.resolve(row === undefined ? undefined : toClient(row));
  }

  touchClient(id: ClientId): Promise<void> {
    this.#run("UPDATE clients SET last_seen = ? WHERE id = ?", Date.now(), id);
    return Promise.resolve();
  }

  usage(clientId: ClientId): Promise<Usage> {
    const row = this.#get(
      `SELECT count(*) AS files, coalesce(sum(size), 0) AS bytes,
         (SELECT coalesce(sum(received), 0) FROM partials WHERE client_id = ?) AS partial_bytes
       FROM files WHERE client_id = ?`,
      clientId,
      clientId,
    )!;
    return Promise.resolve({
      files: Number(row.files),
      bytes: Number(row.bytes),
      partialBytes: Number(row.partial_bytes),
    });
  }

  keepPartial(partial: PartialUpload): Promise<string | undefined> {
    const replaced = this.#transaction(() => {
      const old = this.#get(
        "SELECT staging_ref FROM partials WHERE client_id = ? AND file_name = ?",
        partial.clientId,
        partial.fileName,
      );
      this.#run(
        `INSERT INTO partials (client_id, file_name, staging_ref, size, received, prefix_sha256,
           prefix_crc, instance_id, kept_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (client_id, file_name) DO UPDATE SET
           staging_ref = excluded.staging_ref, size = excluded.size,
           received = excluded.received, prefix_sha256 = excluded.prefix_sha256,
           prefix_crc = excluded.prefix_crc, instance_id = excluded.instance_id,
           kept_at = excluded.kept_at`,
        partial.clientId,
        partial.fileName,
        partial.stagingRef,
        partial.size,
        partial.received,
        partial.prefixSha256,
        partial.prefixCrc,
        partial.instanceId,
        partial.keptAt,
      );
      const ref = old?.staging_ref as string | undefined;
      return ref === partial.stagingRef ? undefined : ref;
    });
    return Promise.resolve(replaced);
  }

  partial(clientId: ClientId, fileName: string): Promise<PartialUpload | undefined> {
    const row = this.#get(
      "SELECT * FROM partials WHERE client_id = ? AND file_name = ?",
      clientId,
      fileName,
    );
    return Promise.resolve(row === undefined ? undefined : toPartial(row));
  }

  takePartial(clientId: ClientId, fileName: string): Promise<PartialUpload | undefined> {
    const row = this.#get(
      "DELETE FROM partials WHERE client_id = ? AND file_name = ? RETURNING *",
      clientId,
      fileName,
    );
    return Promise.resolve(row === undefined ? undefined : toPartial(row));
  }

  listPartials(): Promise<PartialUpload[]> {
    return Promise.resolve(this.#all("SELECT * FROM partials ORDER BY kept_at").map(toPartial));
  }

  file(clientId: ClientId, fileName: string): Promise<FileRecord | undefined> {
    const row = this.#get(
      "SELECT * FROM files WHERE client_id = ? AND file_name = ?",
      clientId,
      fileName,
    );
    return Promise.resolve(row === undefined ? undefined : toFile(row));
  }

  clientFiles(clientId: ClientId, page: FilePage): Promise<FileRecord[]> {
    // TEXT compares with BINARY: memcmp of the UTF-8 bytes.
    const rows = page.after === undefined
      ? this.#all(
        "SELECT * FROM files WHERE client_id = ? ORDER BY file_name LIMIT ?",
        clientId,
        page.limit,
      )
      : this.#all(
        "SELECT * FROM files WHERE client_id = ? AND file_name > ? ORDER BY file_name LIMIT ?",
        clientId,
        page.after,
        page.limit,
      );
    return Promise.resolve(rows.map(toFile));
  }

  async beginCommit(intent: CommitIntent, limits: FileLimits): Promise<CommitStart> {
    const key = lockKey(intent.clientId, intent.fileName);
    await this.#lock(key);
    let start: CommitStart;
    try {
      start = this.#transaction(() => this.#recordIntent(intent, limits));
    } catch (error) {
      this.#unlock(key);
      throw error;
    }
    if ("refused" in start) this.#unlock(key);
    return start;
  }

  /** Checks the limits and inserts the intent; runs inside a transaction. */
  #recordIntent(intent: CommitIntent, limits: FileLimits): CommitStart {
    const others = (table: string) =>
      this.#get(
        `SELECT count(*) AS files, coalesce(sum(size), 0) AS bytes FROM ${table}
         WHERE client_id = ? AND file_name <> ?`,
        intent.clientId,
        intent.fileName,
      )!;
    const stored = others("files");
    const pending = others("intents");
    const partial = this.#get(
      `SELECT coalesce(sum(received), 0) AS bytes FROM partials
       WHERE client_id = ? AND file_name <> ?`,
      intent.clientId,
      intent.fileName,
    )!;
    const files = Number(stored.files) + Number(pending.files) + 1;
    const bytes = Number(stored.bytes) + Number(pending.bytes) + Number(partial.bytes) +
      intent.size;
    if (files > limits.maxFiles) return { refused: "files" };
    if (bytes > limits.maxBytes) return { refused: "bytes" };
    const row = this.#get(
      `INSERT INTO intents
         (client_id, file_name, location, staging_ref, size, cksum, instance_id, created_at,
          sha256)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
      intent.clientId,
      intent.fileName,
      intent.location,
      intent.stagingRef,
      intent.size,
      intent.cksum,
      intent.instanceId,
      Date.now(),
      intent.sha256,
    )!;
    return { id: String(row.id) };
  }

  finishCommit(id: string): Promise<void> {
    const row = this.#get("SELECT * FROM intents WHERE id = ?", Number(id));
    if (row === undefined) {
      return Promise.reject(new RangeError(`Cannot finish commit ${id}: no such intent`));
    }
    const intent = toIntent(row);
    try {
      this.#transaction(() => {
        this.#run(
          `INSERT INTO files (client_id, file_name, location, size, cksum, verified, time, sha256)
           VALUES (?, ?, ?, ?, ?, 1, ?, ?)
           ON CONFLICT (client_id, file_name) DO UPDATE SET
             location = excluded.location, size = excluded.size, cksum = excluded.cksum,
             verified = 1, time = excluded.time, sha256 = excluded.sha256`,
          intent.clientId,
          intent.fileName,
          intent.location,
          intent.size,
          intent.cksum,
          Date.now(),
          intent.sha256,
        );
        this.#run("DELETE FROM intents WHERE id = ?", Number(id));
      });
    } finally {
      this.#unlock(lockKey(intent.clientId, intent.fileName));
    }
    return Promise.resolve();
  }

  abandonCommit(id: string): Promise<void> {
    const row = this.#get("SELECT * FROM intents WHERE id = ?", Number(id));
    if (row === undefined) return Promise.resolve();
    const intent = toIntent(row);
    try {
      this.#run("DELETE FROM intents WHERE id = ?", Number(id));
    } finally {
      this.#unlock(lockKey(intent.clientId, intent.fileName));
    }
    return Promise.resolve();
  }

  pendingCommits(): Promise<PendingCommit[]> {
    return Promise.resolve(this.#all("SELECT * FROM intents ORDER BY id").map(toIntent));
  }

  listClients(): Promise<Array<ClientRecord & Usage>> {
    const rows = this.#all(
      `SELECT clients.*, count(files.file_name) AS files, coalesce(sum(files.size), 0) AS bytes,
         (SELECT coalesce(sum(received), 0) FROM partials WHERE partials.client_id = clients.id)
           AS partial_bytes
       FROM clients LEFT JOIN files ON files.client_id = clients.id
       GROUP BY clients.id ORDER BY clients.name`,
    );
    return Promise.resolve(
      rows.map((row) => ({
        ...toClient(row),
        files: Number(row.files),
        bytes: Number(row.bytes),
        partialBytes: Number(row.partial_bytes),
      })),
    );
  }

  listFiles(clientName?: string): Promise<Array<FileRecord & { clientName: string }>> {
    const select = `SELECT files.*, clients.name AS client_name
      FROM files JOIN clients ON clients.id = files.client_id`;
    const rows = clientName === undefined
      ? this.#all(`${select} ORDER BY clients.name, files.file_name`)
      : this.#all(`${select} WHERE clients.name = ? ORDER BY files.file_name`, clientName);
    return Promise.resolve(
      rows.map((row) => ({ ...toFile(row), clientName: row.client_name as string })),
    );
  }

  forgetClient(
    name: string,
  ): Promise<{ client: ClientRecord; files: FileRecord[] } | undefined> {
    const result = this.#transaction(() => {
      const row = this.#get("SELECT * FROM clients WHERE name = ?", name);
      if (row === undefined) return undefined;
      const client = toClient(row);
      const files = this.#all("SELECT * FROM files WHERE client_id = ?", client.id).map(toFile);
      this.#run("DELETE FROM files WHERE client_id = ?", client.id);
      this.#run("DELETE FROM partials WHERE client_id = ?", client.id);
      this.#run("DELETE FROM clients WHERE id = ?", client.id);
      return { client, files };
    });
    return Promise.resolve(result);
  }

  forgetUnusedClients(seenBefore: number): Promise<string[]> {
    const unused =
      "last_seen < ? AND NOT EXISTS (SELECT 1 FROM files WHERE client_id = clients.id)" +
      " AND NOT EXISTS (SELECT 1 FROM intents WHERE client_id = clients.id)";
    const names = this.#transaction(() => {
      const rows = this.#all(`SELECT name FROM clients WHERE ${unused}`, seenBefore);
      this.#run(`DELETE FROM clients WHERE ${unused}`, seenBefore);
      return rows.map((row) => String(row.name));
    });
    return Promise.resolve(names);
  }

  close(): Promise<void> {
    this.#statements.clear();
    this.#db.close();
    return Promise.resolve();
  }

  #transaction<T>(fn: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = fn();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  async #lock(key: string): Promise<void> {
    while (this.#locks.has(key)) await this.#locks.get(key);
    let release!: () => void;
    this.#locks.set(key, new Promise((resolve) => release = resolve));
    this.#releases.set(key, release);
  }

  #unlock(key: string): void {
    const release = this.#releases.get(key);
    this.#locks.delete(key);
    this.#releases.delete(key);
    release?.();
  }
}

/** Brings the schema to {@linkcode SCHEMA_VERSION}. */
function migrate(db: DatabaseSync): void {
  const version = Number((db.prepare("PRAGMA user_version").get() as Row).user_version);
  if (version === SCHEMA_VERSION) return;
  if (version > SCHEMA_VERSION) {
    throw new Error(`the schema version is ${version}, newer than this server's ${SCHEMA_VERSION}`);
  }
  const hasClients = db.prepare(
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'clients'",
  ).get() !== undefined;
  db.exec("BEGIN IMMEDIATE");
  try {
    if (hasClients) db.exec(MIGRATE_FROM_1);
    db.exec(SCHEMA);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

/** Columns added after {@linkcode SCHEMA_VERSION} 2: `[table, column, type]`, created if missing. */
const ADDED_COLUMNS: ReadonlyArray<readonly [string, string, string]> = [
  ["files", "sha256", "TEXT"],
  ["intents", "sha256", "TEXT"],
  // The family of dialects a client registered in (issue 22); existing clients are family A.
  ["clients", "dialect", "TEXT NOT NULL DEFAULT 'A'"],
];

/** Adds the {@linkcode ADDED_COLUMNS} an existing database lacks (older rows get `NULL`). */
function addMissingColumns(db: DatabaseSync): void {
  for (const [table, column, type] of ADDED_COLUMNS) {
    const columns = db.prepare(`PRAGMA table_info(${table})`).all() as Row[];
    if (!columns.some((c) => c.name === column)) {
      db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
    }
  }
}
