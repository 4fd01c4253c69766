/**
 * The PostgreSQL registry's commits, shared by every instance: an intent
 * recorded before a staged upload takes its name, with the client's row
 * locked (`FOR UPDATE`) while its limits are counted, so limits hold across
 * instances; one commit per (client, file name) at a time through a
 * `commit_locks` row, deleted with the intent, taken over from a dead holder.
 *
 * | call      | rows                                                                  |
 * | --------- | --------------------------------------------------------------------- |
 * | `begin`   | a `commit_locks` row; counts `files`, `intents`, `partials`; an intent |
 * | `finish`  | the intent deleted, the file upserted, the lock row deleted            |
 * | `abandon` | the intent and its lock row deleted                                   |
 * | `pending` | the intents of dead holders only, oldest first                         |
 *
 * @module
 */

import type postgres from "postgres";
import { type ClientId, clientIdToHex } from "../../protocol/mod.ts";
import type { CommitIntent, CommitStart, FileLimits, PendingCommit } from "./registry.ts";
import type { PostgresLiveness } from "./postgres_liveness.ts";
import { toIntent } from "./postgres_rows.ts";

type Sql = postgres.Sql;

function commitLockKey(clientId: ClientId, fileName: string): string {
  return `${clientIdToHex(clientId)}/${fileName}`;
}

/** How long a commit waits between two tries for a (client, file name) lock held elsewhere. */
const LOCK_RETRY_MS = 25;

/** The commit intents and commit locks of one PostgreSQL registry instance. */
export class PostgresCommits {
  readonly #sql: Sql;
  readonly #liveness: PostgresLiveness;

  /**
   * Records commits through `sql`, as `liveness.holder`.
   *
   * @param sql The registry's connections.
   * @param liveness Who this instance is, and who else is alive.
   */
  constructor(sql: Sql, liveness: PostgresLiveness) {
    this.#sql = sql;
    this.#liveness = liveness;
  }

  /** See `Registry.beginCommit`: takes the lock, checks the limits, records the intent. */
  async begin(intent: CommitIntent, limits: FileLimits): Promise<CommitStart> {
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
        VALUES (${key}, ${this.#liveness.holder}, ${Date.now()})
        ON CONFLICT DO NOTHING RETURNING key`;
      if (taken.length === 1) return;
      const [row] = await this.#sql`SELECT holder FROM commit_locks WHERE key = ${key}`;
      if (row !== undefined && !await this.#liveness.isAlive(row.holder)) {
        await this.#sql`DELETE FROM commit_locks WHERE key = ${key} AND holder = ${row.holder}`;
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
    }
  }

  async #unlock(key: string): Promise<void> {
    await this
      .#sql`DELETE FROM commit_locks WHERE key = ${key} AND holder = ${this.#liveness.holder}`;
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
                ${intent.size}, ${intent.cksum}, ${intent.instanceId}, ${this.#liveness.holder},
                ${Date.now()}, ${intent.sha256})
        RETURNING id`;
      return { id: String(inserted!.id) };
    });
  }

  /** See `Registry.finishCommit`. */
  async finish(id: string): Promise<void> {
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

  /** See `Registry.abandonCommit`. */
  async abandon(id: string): Promise<void> {
    await this.#sql.begin(async (tx) => {
      const [intent] = await tx`DELETE FROM intents WHERE id = ${id} RETURNING *`;
      if (intent === undefined) return;
      await tx`
        DELETE FROM commit_locks
        WHERE key = ${commitLockKey(new Uint8Array(intent.client_id), intent.file_name)}
          AND holder = ${intent.holder}`;
    });
  }

  /** See `Registry.pendingCommits`. */
  async pending(): Promise<PendingCommit[]> {
    const holders = await this.#sql`SELECT DISTINCT holder FROM intents`;
    const dead: string[] = [];
    for (const { holder } of holders) {
      if (!await this.#liveness.isAlive(holder)) dead.push(holder);
    }
    if (dead.length === 0) return [];
    const rows = await this.#sql`
      SELECT * FROM intents WHERE holder IN ${this.#sql(dead)} ORDER BY id`;
    return rows.map(toIntent);
  }

  /** Drops the commit locks this instance holds (at close). */
  async releaseAll(): Promise<void> {
    await this.#sql`DELETE FROM commit_locks WHERE holder = ${this.#liveness.holder}`;
  }
}
