/**
 * The PostgreSQL registry's partial uploads: what a cut upload received,
 * kept for the client to resume, one row per (client, file name) in
 * `partials`, shared by every instance.
 *
 * | call    | rows                                                                     |
 * | ------- | ------------------------------------------------------------------------ |
 * | `keep`  | the row locked and upserted (covered by no reservation), the cut upload's reservation dropped, in one transaction; returns the staging reference it replaced |
 * | `get`   | the row                                                                  |
 * | `take`  | deletes the row and returns it (so two connections never continue one)   |
 * | `list`  | every row, oldest first                                                  |
 *
 * @module
 */

import type postgres from "postgres";
import type { ClientId } from "../../protocol/mod.ts";
import type { PartialUpload } from "./registry.ts";
import { toPartial } from "./postgres_rows.ts";

/** The partial uploads of one PostgreSQL registry. */
export class PostgresPartials {
  readonly #sql: postgres.Sql;

  /**
   * Keeps partial uploads through `sql`.
   *
   * @param sql The registry's connections.
   */
  constructor(sql: postgres.Sql) {
    this.#sql = sql;
  }

  /** See `Registry.keepPartial`. */
  async keep(partial: PartialUpload, releasing?: string): Promise<string | undefined> {
    return await this.#sql.begin(async (tx) => {
      // From now on the kept bytes count, not the cut upload's reservation.
      if (releasing !== undefined) await tx`DELETE FROM reservations WHERE token = ${releasing}`;
      const [old] = await tx`
        SELECT staging_ref FROM partials
        WHERE client_id = ${partial.clientId} AND file_name = ${partial.fileName} FOR UPDATE`;
      await tx`
        INSERT INTO partials (client_id, file_name, staging_ref, size, received, prefix_sha256,
                              prefix_crc, instance_id, kept_at, reserved_by)
        VALUES (${partial.clientId}, ${partial.fileName}, ${partial.stagingRef}, ${partial.size},
                ${partial.received}, ${partial.prefixSha256}, ${partial.prefixCrc},
                ${partial.instanceId}, ${partial.keptAt}, NULL)
        ON CONFLICT (client_id, file_name) DO UPDATE SET
          staging_ref = excluded.staging_ref, size = excluded.size, received = excluded.received,
          prefix_sha256 = excluded.prefix_sha256, prefix_crc = excluded.prefix_crc,
          instance_id = excluded.instance_id, kept_at = excluded.kept_at, reserved_by = NULL`;
      const ref = old?.staging_ref as string | undefined;
      return ref === partial.stagingRef ? undefined : ref;
    });
  }

  /** See `Registry.partial`. */
  async get(clientId: ClientId, fileName: string): Promise<PartialUpload | undefined> {
    const [row] = await this.#sql`
      SELECT * FROM partials WHERE client_id = ${clientId} AND file_name = ${fileName}`;
    return row === undefined ? undefined : toPartial(row);
  }

  /** See `Registry.takePartial`. */
  async take(clientId: ClientId, fileName: string): Promise<PartialUpload | undefined> {
    const [row] = await this.#sql`
      DELETE FROM partials WHERE client_id = ${clientId} AND file_name = ${fileName}
      RETURNING *`;
    return row === undefined ? undefined : toPartial(row);
  }

  /** See `Registry.listPartials`. */
  async list(): Promise<PartialUpload[]> {
    return (await this.#sql`SELECT * FROM partials ORDER BY kept_at`).map(toPartial);
  }
}
