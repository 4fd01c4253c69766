/**
 * A {@linkcode Registry} in PostgreSQL, shared by several server instances
 * (the `postgres` driver from npm).
 *
 * Its parts: the schema (`postgres_schema.ts`), the driver's options
 * (`postgres_driver.ts`), rows as records (`postgres_rows.ts`), which
 * instances are alive (`postgres_liveness.ts`), the commit intents and locks
 * (`postgres_commits.ts`) and the partial uploads (`postgres_partials.ts`);
 * this file holds the clients and the files and answers the `Registry` calls.
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

import postgres from "postgres";
import { bytesToHex, type ClientId } from "../../protocol/mod.ts";
import { RegistryError } from "../errors.ts";
import { redactUrl } from "./redact_url.ts";
import type { Family } from "../../protocol/dialects/mod.ts";
import type {
  ClientRecord,
  CommitIntent,
  CommitStart,
  FileLimits,
  FilePage,
  FileRecord,
  ForgottenClient,
  PartialUpload,
  PendingCommit,
  Registry,
  Reservation,
  Usage,
} from "./registry.ts";
import { PostgresCommits } from "./postgres_commits.ts";
import { driverOptions } from "./postgres_driver.ts";
import { PostgresLiveness } from "./postgres_liveness.ts";
import { PostgresPartials } from "./postgres_partials.ts";
import { PostgresReservations } from "./postgres_reservations.ts";
import { toClient, toFile, toPartial } from "./postgres_rows.ts";
import { applySchema } from "./postgres_schema.ts";

export { driverOptions } from "./postgres_driver.ts";
export { POSTGRES_SCHEMA_VERSION } from "./postgres_schema.ts";

type Sql = postgres.Sql;

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

/** The registry in PostgreSQL. */
export class PostgresRegistry implements Registry {
  /** This registry's liveness identity: intents and commit locks it records carry it. */
  readonly holder: string;
  #sql: Sql;
  #liveness: PostgresLiveness;
  #commits: PostgresCommits;
  #partials: PostgresPartials;
  #reservations: PostgresReservations;

  private constructor(sql: Sql, liveness: PostgresLiveness) {
    this.#sql = sql;
    this.#liveness = liveness;
    this.holder = liveness.holder;
    this.#commits = new PostgresCommits(sql, liveness);
    this.#partials = new PostgresPartials(sql);
    this.#reservations = new PostgresReservations(sql, liveness);
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
    const session = postgres(url, driverOptions(url, 1));
    const holder = bytesToHex(crypto.getRandomValues(new Uint8Array(8)));
    const liveness = new PostgresLiveness(sql, session, holder);
    try {
      await sql.begin((tx) => applySchema(tx));
      await liveness.hold(options.livenessCheckMs ?? DEFAULT_LIVENESS_CHECK_MS);
    } catch (error) {
      await session.end({ timeout: 1 }).catch(() => {});
      await sql.end({ timeout: 1 }).catch(() => {});
      const reason = error instanceof Error ? error.message : String(error);
      throw new RegistryError(`Cannot open registry ${redactUrl(url)}: ${reason}`, {
        cause: error,
      });
    }
    return new PostgresRegistry(sql, liveness);
  }

  /** Whether the registry instance `holder` still has its session (always true for this one). */
  isAlive(holder: string): Promise<boolean> {
    return this.#liveness.isAlive(holder);
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

  keepPartial(partial: PartialUpload, releasing?: string): Promise<string | undefined> {
    return this.#partials.keep(partial, releasing);
  }

  partial(clientId: ClientId, fileName: string): Promise<PartialUpload | undefined> {
    return this.#partials.get(clientId, fileName);
  }

  takePartial(clientId: ClientId, fileName: string): Promise<PartialUpload | undefined> {
    return this.#partials.take(clientId, fileName);
  }

  listPartials(): Promise<PartialUpload[]> {
    return this.#partials.list();
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

  beginCommit(intent: CommitIntent, limits: FileLimits): Promise<CommitStart> {
    return this.#commits.begin(intent, limits);
  }

  finishCommit(id: string): Promise<void> {
    return this.#commits.finish(id);
  }

  abandonCommit(id: string): Promise<void> {
    return this.#commits.abandon(id);
  }

  pendingCommits(): Promise<PendingCommit[]> {
    return this.#commits.pending();
  }

  reserve(reservation: Reservation, limits: FileLimits): Promise<"files" | "bytes" | undefined> {
    return this.#reservations.reserve(reservation, limits);
  }

  release(token: string): Promise<void> {
    return this.#reservations.release(token);
  }

  dropDeadReservations(): Promise<number> {
    return this.#reservations.dropDead();
  }

  dropStaleReservations(
    instanceId: string,
    held: (token: string) => boolean,
    before: number,
  ): Promise<number> {
    return this.#reservations.dropStale(instanceId, held, before);
  }

  async listClients(): Promise<Array<ClientRecord & Usage & { stagedBytes: number }>> {
    const rows = await this.#sql`
      SELECT clients.*, count(files.file_name) AS files, coalesce(sum(files.size), 0) AS bytes,
        (SELECT coalesce(sum(received), 0) FROM partials WHERE partials.client_id = clients.id)
          AS partial_bytes,
        (SELECT coalesce(sum(size), 0) FROM reservations
          WHERE reservations.client_id = clients.id) AS staged_bytes
      FROM clients LEFT JOIN files ON files.client_id = clients.id
      GROUP BY clients.id ORDER BY clients.name`;
    return rows.map((row) => ({
      ...toClient(row),
      files: Number(row.files),
      bytes: Number(row.bytes),
      partialBytes: Number(row.partial_bytes),
      stagedBytes: Number(row.staged_bytes),
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

  async forgetClient(name: string): Promise<ForgottenClient | undefined> {
    return await this.#sql.begin(async (tx) => {
      const [row] = await tx`SELECT * FROM clients WHERE name = ${name} FOR UPDATE`;
      if (row === undefined) return undefined;
      const client = toClient(row);
      const files = (await tx`DELETE FROM files WHERE client_id = ${client.id} RETURNING *`)
        .map(toFile);
      const partials = (await tx`DELETE FROM partials WHERE client_id = ${client.id} RETURNING *`)
        .map(toPartial);
      await tx`DELETE FROM reservations WHERE client_id = ${client.id}`;
      await tx`DELETE FROM clients WHERE id = ${client.id}`;
      return { client, files, partials };
    });
  }

  async forgetUnusedClients(seenBefore: number): Promise<string[]> {
    return await this.#sql.begin(async (tx) => {
      const rows = await tx`
        DELETE FROM clients
        WHERE last_seen < ${seenBefore}
          AND NOT EXISTS (SELECT 1 FROM files WHERE files.client_id = clients.id)
          AND NOT EXISTS (SELECT 1 FROM intents WHERE intents.client_id = clients.id)
          AND NOT EXISTS (SELECT 1 FROM reservations WHERE reservations.client_id = clients.id)
        RETURNING id, name`;
      if (rows.length > 0) {
        await tx`DELETE FROM partials WHERE client_id IN ${tx(rows.map((row) => row.id))}`;
      }
      return rows.map((row) => String(row.name));
    });
  }

  async close(): Promise<void> {
    await this.#commits.releaseAll().catch(() => {});
    await this.#sql.end({ timeout: 5 });
    await this.#liveness.close();
  }
}
