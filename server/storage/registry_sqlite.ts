/**
 * The default {@linkcode Registry}: one SQLite file (`node:sqlite`, WAL
 * mode), for a single server.
 *
 * Its parts: the schema and its migrations (`sqlite_schema.ts`), the
 * database file and its statements (`sqlite_database.ts`), rows as records
 * (`sqlite_rows.ts`), the commit intents and locks (`sqlite_commits.ts`) and
 * the partial uploads (`sqlite_partials.ts`); this file holds the clients and
 * the files and answers the `Registry` calls.
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

import type { ClientId } from "../../protocol/mod.ts";
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
import { SqliteCommits } from "./sqlite_commits.ts";
import { SqliteDatabase } from "./sqlite_database.ts";
import { SqlitePartials } from "./sqlite_partials.ts";
import { SqliteReservations } from "./sqlite_reservations.ts";
import { toClient, toFile, toPartial } from "./sqlite_rows.ts";

export { SCHEMA_VERSION } from "./sqlite_schema.ts";

/** The clients and files registry over one SQLite file. */
export class SqliteRegistry implements Registry {
  readonly #db: SqliteDatabase;
  readonly #commits: SqliteCommits;
  readonly #partials: SqlitePartials;
  readonly #reservations: SqliteReservations;

  private constructor(db: SqliteDatabase) {
    this.#db = db;
    this.#commits = new SqliteCommits(db);
    this.#partials = new SqlitePartials(db);
    this.#reservations = new SqliteReservations(db);
  }

  /**
   * Opens (creating if needed, migrating an older schema) the database at
   * `path`, in WAL mode, its files 0600.
   *
   * @throws {RegistryError} `Cannot open database <path>: <reason>` if the
   * file is locked, corrupt or not a database.
   */
  static async open(path: string): Promise<SqliteRegistry> {
    return new SqliteRegistry(await SqliteDatabase.open(path));
  }

  addClient(
    client: { id: ClientId; name: string; publicKey: Uint8Array; dialect?: Family },
  ): Promise<boolean> {
    const now = Date.now();
    return Promise.resolve(
      this.#db.run(
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
    const row = this.#db.get("SELECT * FROM clients WHERE name = ?", name);
    return Promise.resolve(row === undefined ? undefined : toClient(row));
  }

  clientById(id: ClientId): Promise<ClientRecord | undefined> {
    const row = this.#db.get("SELECT * FROM clients WHERE id = ?", id);
    return Promise.resolve(row === undefined ? undefined : toClient(row));
  }

  touchClient(id: ClientId): Promise<void> {
    this.#db.run("UPDATE clients SET last_seen = ? WHERE id = ?", Date.now(), id);
    return Promise.resolve();
  }

  usage(clientId: ClientId): Promise<Usage> {
    const row = this.#db.get(
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

  file(clientId: ClientId, fileName: string): Promise<FileRecord | undefined> {
    const row = this.#db.get(
      "SELECT * FROM files WHERE client_id = ? AND file_name = ?",
      clientId,
      fileName,
    );
    return Promise.resolve(row === undefined ? undefined : toFile(row));
  }

  clientFiles(clientId: ClientId, page: FilePage): Promise<FileRecord[]> {
    // TEXT compares with BINARY: memcmp of the UTF-8 bytes.
    const rows = page.after === undefined
      ? this.#db.all(
        "SELECT * FROM files WHERE client_id = ? ORDER BY file_name LIMIT ?",
        clientId,
        page.limit,
      )
      : this.#db.all(
        "SELECT * FROM files WHERE client_id = ? AND file_name > ? ORDER BY file_name LIMIT ?",
        clientId,
        page.after,
        page.limit,
      );
    return Promise.resolve(rows.map(toFile));
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
    return this.#reservations.dropAll();
  }

  dropStaleReservations(
    instanceId: string,
    held: (token: string) => boolean,
    before: number,
  ): Promise<number> {
    return this.#reservations.dropStale(instanceId, held, before);
  }

  listClients(): Promise<Array<ClientRecord & Usage & { stagedBytes: number }>> {
    const rows = this.#db.all(
      `SELECT clients.*, count(files.file_name) AS files, coalesce(sum(files.size), 0) AS bytes,
         (SELECT coalesce(sum(received), 0) FROM partials WHERE partials.client_id = clients.id)
           AS partial_bytes,
         (SELECT coalesce(sum(size), 0) FROM reservations
           WHERE reservations.client_id = clients.id) AS staged_bytes
       FROM clients LEFT JOIN files ON files.client_id = clients.id
       GROUP BY clients.id ORDER BY clients.name`,
    );
    return Promise.resolve(
      rows.map((row) => ({
        ...toClient(row),
        files: Number(row.files),
        bytes: Number(row.bytes),
        partialBytes: Number(row.partial_bytes),
        stagedBytes: Number(row.staged_bytes),
      })),
    );
  }

  listFiles(clientName?: string): Promise<Array<FileRecord & { clientName: string }>> {
    const select = `SELECT files.*, clients.name AS client_name
      FROM files JOIN clients ON clients.id = files.client_id`;
    const rows = clientName === undefined
      ? this.#db.all(`${select} ORDER BY clients.name, files.file_name`)
      : this.#db.all(`${select} WHERE clients.name = ? ORDER BY files.file_name`, clientName);
    return Promise.resolve(
      rows.map((row) => ({ ...toFile(row), clientName: row.client_name as string })),
    );
  }

  forgetClient(name: string): Promise<ForgottenClient | undefined> {
    const result = this.#db.transaction(() => {
      const row = this.#db.get("SELECT * FROM clients WHERE name = ?", name);
      if (row === undefined) return undefined;
      const client = toClient(row);
      const files = this.#db.all("SELECT * FROM files WHERE client_id = ?", client.id).map(toFile);
      const partials = this.#db.all("SELECT * FROM partials WHERE client_id = ?", client.id)
        .map(toPartial);
      this.#db.run("DELETE FROM files WHERE client_id = ?", client.id);
      this.#db.run("DELETE FROM partials WHERE client_id = ?", client.id);
      this.#db.run("DELETE FROM reservations WHERE client_id = ?", client.id);
      this.#db.run("DELETE FROM clients WHERE id = ?", client.id);
      return { client, files, partials };
    });
    return Promise.resolve(result);
  }

  forgetUnusedClients(seenBefore: number): Promise<string[]> {
    const unused =
      "last_seen < ? AND NOT EXISTS (SELECT 1 FROM files WHERE client_id = clients.id)" +
      " AND NOT EXISTS (SELECT 1 FROM intents WHERE client_id = clients.id)" +
      " AND NOT EXISTS (SELECT 1 FROM reservations WHERE client_id = clients.id)";
    const names = this.#db.transaction(() => {
      const rows = this.#db.all(`SELECT id, name FROM clients WHERE ${unused}`, seenBefore);
      for (const row of rows) {
        this.#db.run("DELETE FROM partials WHERE client_id = ?", row.id as Uint8Array);
        this.#db.run("DELETE FROM clients WHERE id = ?", row.id as Uint8Array);
      }
      return rows.map((row) => String(row.name));
    });
    return Promise.resolve(names);
  }

  close(): Promise<void> {
    this.#db.close();
    return Promise.resolve();
  }
}
