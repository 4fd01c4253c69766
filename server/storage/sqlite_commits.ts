/**
 * The SQLite registry's commits: an intent recorded before a staged upload
 * takes its name (checked against the client's limits in the same
 * transaction), turned into the file's row when the store has committed, or
 * dropped. The per-(client, file name) commit lock is held in this process:
 * one SQLite file serves one server.
 *
 * | call      | rows                                                             |
 * | --------- | ---------------------------------------------------------------- |
 * | `begin`   | counts `files`, `intents`, `partials`; inserts into `intents`    |
 * | `finish`  | upserts into `files`, deletes the intent (one transaction)       |
 * | `abandon` | deletes the intent                                               |
 * | `pending` | every intent, oldest first (recovered at start-up)               |
 *
 * @module
 */

import { type ClientId, clientIdToHex } from "../../protocol/mod.ts";
import type { CommitIntent, CommitStart, FileLimits, PendingCommit } from "./registry.ts";
import type { SqliteDatabase } from "./sqlite_database.ts";
import { toIntent } from "./sqlite_rows.ts";

function lockKey(clientId: ClientId, fileName: string): string {
  return `${clientIdToHex(clientId)}/${fileName}`;
}

/** The commit intents and commit locks of one SQLite registry. */
export class SqliteCommits {
  readonly #db: SqliteDatabase;
  /** Commit locks: settles on release, per `<id hex>/<file name>`. */
  #locks = new Map<string, Promise<void>>();
  #releases = new Map<string, () => void>();

  /**
   * Records commits in `db`.
   *
   * @param db The registry's database.
   */
  constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  /** See `Registry.beginCommit`: takes the lock, checks the limits, records the intent. */
  async begin(intent: CommitIntent, limits: FileLimits): Promise<CommitStart> {
    const key = lockKey(intent.clientId, intent.fileName);
    await this.#lock(key);
    let start: CommitStart;
    try {
      start = this.#db.transaction(() => this.#recordIntent(intent, limits));
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
      this.#db.get(
        `SELECT count(*) AS files, coalesce(sum(size), 0) AS bytes FROM ${table}
         WHERE client_id = ? AND file_name <> ?`,
        intent.clientId,
        intent.fileName,
      )!;
    const stored = others("files");
    const pending = others("intents");
    const partial = this.#db.get(
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
    const row = this.#db.get(
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

  /** See `Registry.finishCommit`. */
  finish(id: string): Promise<void> {
    const row = this.#db.get("SELECT * FROM intents WHERE id = ?", Number(id));
    if (row === undefined) {
      return Promise.reject(new RangeError(`Cannot finish commit ${id}: no such intent`));
    }
    const intent = toIntent(row);
    try {
      this.#db.transaction(() => {
        this.#db.run(
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
        this.#db.run("DELETE FROM intents WHERE id = ?", Number(id));
      });
    } finally {
      this.#unlock(lockKey(intent.clientId, intent.fileName));
    }
    return Promise.resolve();
  }

  /** See `Registry.abandonCommit`. */
  abandon(id: string): Promise<void> {
    const row = this.#db.get("SELECT * FROM intents WHERE id = ?", Number(id));
    if (row === undefined) return Promise.resolve();
    const intent = toIntent(row);
    try {
      this.#db.run("DELETE FROM intents WHERE id = ?", Number(id));
    } finally {
      this.#unlock(lockKey(intent.clientId, intent.fileName));
    }
    return Promise.resolve();
  }

  /** See `Registry.pendingCommits`. */
  pending(): Promise<PendingCommit[]> {
    return Promise.resolve(this.#db.all("SELECT * FROM intents ORDER BY id").map(toIntent));
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
