/**
 * Which registries (server instances) sharing one PostgreSQL database are
 * alive: each holds an advisory lock, keyed by its random holder id, on a
 * session of its own for as long as it lives. An instance that dies loses its
 * session, so its lock goes at once, with no heartbeat to tune. The session
 * is checked every few seconds and the lock taken again if PostgreSQL lost it
 * (a restart, a cut link).
 *
 * | question                | SQL                                                              |
 * | ----------------------- | ---------------------------------------------------------------- |
 * | I am alive              | `pg_advisory_lock(0x4654, hashtext(holder))` on its own session  |
 * | is `holder` alive?      | `pg_try_advisory_xact_lock(...)` fails: someone holds it         |
 * | do I still hold mine?   | `pg_locks` of this session                                       |
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type postgres from "postgres";

type Sql = postgres.Sql;

/** Advisory lock namespace (first int4 key) of instance liveness locks. */
const LIVENESS_NAMESPACE = 0x4654; // "FT"

const logger = getLogger(["server", "registry"]);

/** This instance's liveness lock, and the question of others'. */
export class PostgresLiveness {
  /** This registry's liveness identity: intents and commit locks it records carry it. */
  readonly holder: string;
  #sql: Sql;
  #liveness: Sql;
  #watch: ReturnType<typeof setInterval> | undefined;
  #checking = false;

  /**
   * Uses `liveness`, a session of one connection, to hold `holder`'s lock;
   * `sql` to ask about others.
   *
   * @param sql The registry's connections for requests.
   * @param liveness A connection of its own, kept open.
   * @param holder This instance's random holder id.
   */
  constructor(sql: Sql, liveness: Sql, holder: string) {
    this.#sql = sql;
    this.#liveness = liveness;
    this.holder = holder;
  }

  /** Takes the lock, then checks every `checkMs` that the session still holds it. */
  async hold(checkMs: number): Promise<void> {
    await this.#liveness`SELECT pg_advisory_lock(${LIVENESS_NAMESPACE}, hashtext(${this.holder}))`;
    this.#watch = setInterval(() => this.#check(), checkMs);
    Deno.unrefTimer(Number(this.#watch)); // a forgotten close() must not keep the process up
  }

  /**
   * Takes this instance's liveness lock again if its session lost it (the
   * driver opens a new session silently, without the old one's locks).
   */
  async #check(): Promise<void> {
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

  /** Stops checking and ends the session: the lock goes with it. */
  async close(): Promise<void> {
    clearInterval(this.#watch);
    await this.#liveness.end({ timeout: 5 });
  }
}
