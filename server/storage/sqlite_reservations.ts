/**
 * The SQLite registry's reservations: what uploads in progress claim of
 * their client's limits, one row per connection token in `reservations`.
 *
 * | call      | rows                                                                      |
 * | --------- | ------------------------------------------------------------------------- |
 * | `reserve` | in one transaction: counts files, partials, other reservations; upserts    |
 * | `release` | deletes the token's row                                                   |
 * | `dropAll` | deletes every row (start-up: one instance, so every holder is gone)       |
 *
 * @module
 */

import type { FileLimits, Reservation } from "./registry.ts";
import type { SqliteDatabase } from "./sqlite_database.ts";

/** The reservations of one SQLite registry. */
export class SqliteReservations {
  readonly #db: SqliteDatabase;

  /**
   * Keeps reservations in `db`.
   *
   * @param db The registry's database.
   */
  constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  /** See `Registry.reserve`. */
  reserve(reservation: Reservation, limits: FileLimits): Promise<"files" | "bytes" | undefined> {
    const { token, clientId, fileName, size } = reservation;
    const refused = this.#db.transaction(() => {
      this.#db.run("DELETE FROM reservations WHERE token = ?", token);
      const row = this.#db.get(
        `SELECT
           (SELECT count(*) FROM files WHERE client_id = ?1 AND file_name <> ?2) +
           (SELECT count(*) FROM reservations WHERE client_id = ?1) AS files,
           (SELECT coalesce(sum(size), 0) FROM files WHERE client_id = ?1 AND file_name <> ?2) +
           (SELECT coalesce(sum(received), 0) FROM partials WHERE client_id = ?1) +
           (SELECT coalesce(sum(size), 0) FROM reservations WHERE client_id = ?1) AS bytes`,
        clientId,
        fileName,
      )!;
      if (Number(row.files) + 1 > limits.maxFiles) return "files" as const;
      if (Number(row.bytes) + size > limits.maxBytes) return "bytes" as const;
      this.#db.run(
        `INSERT INTO reservations (token, client_id, file_name, size, instance_id, created_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
        token,
        clientId,
        fileName,
        size,
        reservation.instanceId,
        Date.now(),
      );
      return undefined;
    });
    return Promise.resolve(refused);
  }

  /** See `Registry.release`. */
  release(token: string): Promise<void> {
    this.#db.run("DELETE FROM reservations WHERE token = ?", token);
    return Promise.resolve();
  }

  /** See `Registry.dropDeadReservations`: a SQLite registry has one instance, this one, starting. */
  dropAll(): Promise<number> {
    return Promise.resolve(this.#db.run("DELETE FROM reservations"));
  }
}
