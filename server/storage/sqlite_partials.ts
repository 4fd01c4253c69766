/**
 * The SQLite registry's partial uploads: what a cut upload received, kept
 * for the client to resume, one row per (client, file name) in `partials`.
 *
 * | call    | rows                                                                  |
 * | ------- | --------------------------------------------------------------------- |
 * | `keep`  | upserts the row (covered by no reservation) and drops the cut upload's reservation, in one transaction; returns the staging reference it replaced, if another |
 * | `get`   | the row                                                               |
 * | `take`  | deletes the row and returns it (so two connections never continue one) |
 * | `list`  | every row, oldest first                                               |
 *
 * @module
 */

import type { ClientId } from "../../protocol/mod.ts";
import type { PartialUpload } from "./registry.ts";
import type { SqliteDatabase } from "./sqlite_database.ts";
import { toPartial } from "./sqlite_rows.ts";

/** The partial uploads of one SQLite registry. */
export class SqlitePartials {
  readonly #db: SqliteDatabase;

  /**
   * Keeps partial uploads in `db`.
   *
   * @param db The registry's database.
   */
  constructor(db: SqliteDatabase) {
    this.#db = db;
  }

  /** See `Registry.keepPartial`. */
  keep(partial: PartialUpload, releasing?: string): Promise<string | undefined> {
    const replaced = this.#db.transaction(() => {
      // From now on the kept bytes count, not the cut upload's reservation.
      if (releasing !== undefined) {
        this.#db.run("DELETE FROM reservations WHERE token = ?", releasing);
      }
      const old = this.#db.get(
        "SELECT staging_ref FROM partials WHERE client_id = ? AND file_name = ?",
        partial.clientId,
        partial.fileName,
      );
      this.#db.run(
        `INSERT INTO partials (client_id, file_name, staging_ref, size, received, prefix_sha256,
           prefix_crc, instance_id, kept_at, reserved_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
         ON CONFLICT (client_id, file_name) DO UPDATE SET
           staging_ref = excluded.staging_ref, size = excluded.size,
           received = excluded.received, prefix_sha256 = excluded.prefix_sha256,
           prefix_crc = excluded.prefix_crc, instance_id = excluded.instance_id,
           kept_at = excluded.kept_at, reserved_by = NULL`,
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

  /** See `Registry.partial`. */
  get(clientId: ClientId, fileName: string): Promise<PartialUpload | undefined> {
    const row = this.#db.get(
      "SELECT * FROM partials WHERE client_id = ? AND file_name = ?",
      clientId,
      fileName,
    );
    return Promise.resolve(row === undefined ? undefined : toPartial(row));
  }

  /** See `Registry.takePartial`. */
  take(clientId: ClientId, fileName: string): Promise<PartialUpload | undefined> {
    const row = this.#db.get(
      "DELETE FROM partials WHERE client_id = ? AND file_name = ? RETURNING *",
      clientId,
      fileName,
    );
    return Promise.resolve(row === undefined ? undefined : toPartial(row));
  }

  /** See `Registry.listPartials`. */
  list(): Promise<PartialUpload[]> {
    return Promise.resolve(this.#db.all("SELECT * FROM partials ORDER BY kept_at").map(toPartial));
  }
}
