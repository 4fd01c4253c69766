/**
 * The PostgreSQL registry's reservations: what uploads in progress claim of
 * their client's limits, one row per connection token in `reservations`,
 * shared by every instance. The client's row is locked (`FOR UPDATE`) while
 * its limits are counted, so two instances never both admit past them.
 *
 * | call       | rows                                                                     |
 * | ---------- | ------------------------------------------------------------------------ |
 * | `reserve`  | in one transaction: client row locked; counts files, uncovered partials, reservations; inserts; covers the path's partial if it takes it |
 * | `release`  | deletes the token's row                                                  |
 * | `dropDead` | deletes the rows of holders whose liveness lock is gone (dead instances) |
 * | `dropStale` | deletes old rows no live connection holds: this instance's not held, dead instances' |
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

import type postgres from "postgres";
import type { FileLimits, Reservation } from "./registry.ts";
import type { PostgresLiveness } from "./postgres_liveness.ts";

/** Most reservations one call of `dropStale` looks at (bounded work per sweep). */
const STALE_PER_SWEEP = 1000;

/** The reservations of one PostgreSQL registry instance. */
export class PostgresReservations {
  readonly #sql: postgres.Sql;
  readonly #liveness: PostgresLiveness;

  /**
   * Keeps reservations in the database of `sql`, marked with `liveness.holder`.
   *
   * @param sql The registry's connection pool.
   * @param liveness This instance's liveness, and the question of others'.
   */
  constructor(sql: postgres.Sql, liveness: PostgresLiveness) {
    this.#sql = sql;
    this.#liveness = liveness;
  }

  /** See `Registry.reserve`. */
  async reserve(
    reservation: Reservation,
    limits: FileLimits,
  ): Promise<"files" | "bytes" | undefined> {
    const { token, clientId, fileName, size } = reservation;
    const takes = reservation.takesPartial === true;
    return await this.#sql.begin(async (tx) => {
      await tx`SELECT id FROM clients WHERE id = ${clientId} FOR UPDATE`;
      await tx`DELETE FROM reservations WHERE token = ${token}`;
      const [row] = await tx`
        SELECT
          (SELECT count(*) FROM files WHERE client_id = ${clientId} AND file_name <> ${fileName}) +
          (SELECT count(*) FROM reservations WHERE client_id = ${clientId}) AS files,
          (SELECT coalesce(sum(size), 0) FROM files WHERE client_id = ${clientId}
             AND file_name <> ${fileName}) +
          (SELECT coalesce(sum(
             CASE WHEN ${takes} AND p.file_name = ${fileName} THEN GREATEST(p.received - ${size}, 0)
                  WHEN r.token IS NOT NULL THEN GREATEST(p.received - r.size, 0)
                  ELSE p.received END), 0)
             FROM partials p LEFT JOIN reservations r ON r.token = p.reserved_by
             WHERE p.client_id = ${clientId}) +
          (SELECT coalesce(sum(size), 0) FROM reservations WHERE client_id = ${clientId}) AS bytes`;
      if (Number(row?.files ?? 0) + 1 > limits.maxFiles) return "files" as const;
      if (Number(row?.bytes ?? 0) + size > limits.maxBytes) return "bytes" as const;
      await tx`
        INSERT INTO reservations (token, client_id, file_name, size, instance_id, holder, created_at)
        VALUES (${token}, ${clientId}, ${fileName}, ${size}, ${reservation.instanceId},
                ${this.#liveness.holder}, ${Date.now()})`;
      if (takes) {
        await tx`
          UPDATE partials SET reserved_by = ${token}
          WHERE client_id = ${clientId} AND file_name = ${fileName}`;
      }
      return undefined;
    });
  }

  /** See `Registry.release`. */
  async release(token: string): Promise<void> {
    await this.#sql`DELETE FROM reservations WHERE token = ${token}`;
  }

  /** See `Registry.dropDeadReservations`: the rows of instances whose liveness lock is gone. */
  async dropDead(): Promise<number> {
    const holders = await this.#sql`SELECT DISTINCT holder FROM reservations`;
    const dead: string[] = [];
    for (const { holder } of holders) {
      if (!await this.#liveness.isAlive(holder)) dead.push(holder);
    }
    if (dead.length === 0) return 0;
    const gone = await this.#sql`
      DELETE FROM reservations WHERE holder IN ${this.#sql(dead)} RETURNING token`;
    return gone.length;
  }

  /**
   * See `Registry.dropStaleReservations`: rows made before `before` of this
   * instance (`instanceId`) that no live connection of it holds, and of
   * instances whose liveness lock is gone; another live instance's rows are
   * its own to sweep.
   */
  async dropStale(
    instanceId: string,
    held: (token: string) => boolean,
    before: number,
  ): Promise<number> {
    const rows = await this.#sql`
      SELECT token, instance_id, holder FROM reservations WHERE created_at < ${before}
      ORDER BY created_at LIMIT ${STALE_PER_SWEEP}`;
    const stale: string[] = [];
    const alive = new Map<string, boolean>();
    for (const { token, instance_id: instance, holder } of rows) {
      if (instance === instanceId) {
        if (!held(token)) stale.push(token);
        continue;
      }
      if (!alive.has(holder)) alive.set(holder, await this.#liveness.isAlive(holder));
      if (!alive.get(holder)) stale.push(token);
    }
    if (stale.length === 0) return 0;
    const gone = await this.#sql`
      DELETE FROM reservations WHERE token IN ${this.#sql(stale)} RETURNING token`;
    return gone.length;
  }
}
