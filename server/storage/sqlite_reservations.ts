/**
 * The SQLite registry's reservations: what uploads in progress claim of
 * their client's limits, one row per connection token in `reservations`.
 *
 * | call        | rows                                                                      |
 * | ----------- | ------------------------------------------------------------------------- |
 * | `reserve`   | in one transaction: counts files, uncovered partials, other reservations; inserts; covers the path's partial if it takes it |
 * | `release`   | deletes the token's row                                                   |
 * | `dropAll`   | deletes every row (start-up: one instance, so every holder is gone)       |
 * | `dropStale` | deletes old rows no live connection holds (the running sweep)             |
 *
 * A kept partial upload (`partials`) is counted once: by its own bytes,
 * unless a reservation covers it (`partials.reserved_by`, set when an upload
 * of its path reserves: an 853 resuming it or dropping it at offset 0, an
 * 828 that supersedes it when it commits), when the reservation's size
 * stands for them (for as many as its size: a smaller upload leaves the
 * rest counted).
 *
 * @module
 */

import type { FileLimits, Reservation } from "./registry.ts";
import type { SqliteDatabase } from "./sqlite_database.ts";

/**
 * The bytes of a client's (`?1`) partial uploads that count: a partial's
 * kept bytes, less what a live reservation covering it stands for (its
 * size), or, for the path `?2` when the new reservation takes it (`?3` = 1),
 * less the new reservation's size (`?4`): a reservation stands for at most
 * its own size of what was kept.
 */
const COUNTED_PARTIAL_BYTES = `(SELECT coalesce(sum(
    CASE WHEN ?3 = 1 AND p.file_name = ?2 THEN max(p.received - ?4, 0)
         WHEN r.token IS NOT NULL THEN max(p.received - r.size, 0)
         ELSE p.received END), 0)
  FROM partials p LEFT JOIN reservations r ON r.token = p.reserved_by
  WHERE p.client_id = ?1)`;

/** Most reservations one call of `dropStale` looks at (bounded work per sweep). */
const STALE_PER_SWEEP = 1000;

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
           ${COUNTED_PARTIAL_BYTES} +
           (SELECT coalesce(sum(size), 0) FROM reservations WHERE client_id = ?1) AS bytes`,
        clientId,
        fileName,
        reservation.takesPartial === true ? 1 : 0,
        size,
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
      if (reservation.takesPartial === true) {
        this.#db.run(
          "UPDATE partials SET reserved_by = ? WHERE client_id = ? AND file_name = ?",
          token,
          clientId,
          fileName,
        );
      }
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

  /**
   * See `Registry.dropStaleReservations`: one instance uses a SQLite file,
   * so a row of another instance id is a previous run's.
   */
  dropStale(instanceId: string, held: (token: string) => boolean, before: number): Promise<number> {
    const rows = this.#db.all(
      "SELECT token, instance_id FROM reservations WHERE created_at < ? ORDER BY created_at LIMIT ?",
      before,
      STALE_PER_SWEEP,
    );
    let dropped = 0;
    for (const row of rows) {
      const token = String(row.token);
      if (row.instance_id === instanceId && held(token)) continue;
      dropped += this.#db.run("DELETE FROM reservations WHERE token = ?", token);
    }
    return Promise.resolve(dropped);
  }
}
