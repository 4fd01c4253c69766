/**
 * The deployment's secure-mode identity, kept in the shared PostgreSQL
 * registry (see `server/identity/deployment_identity.ts`):
 *
 * ```text
 * deployment_identity(id smallint PK CHECK (id = 1), certificate text, private_key text NULL,
 *                     fingerprint text, recorded_at bigint)
 * ```
 *
 * One row at most. The first instance's `INSERT ... ON CONFLICT DO NOTHING`
 * wins and every other reads what it recorded, so instances that start at
 * once agree. The table is created if missing, under an advisory lock (safe
 * when several instances start together), beside the registry's own tables.
 *
 * @example
 * ```ts ignore
 * const record = await PostgresIdentityRecord.open("postgres://ft@db/ft");
 * console.log(await record.read());
 * await record.close();
 * ```
 *
 * @module
 */

import { errorMessage } from "../../common/error_message.ts";
import postgres from "postgres";
import { RegistryError } from "../errors.ts";
import { formatFingerprint } from "../../protocol/fingerprint.ts";
import {
  type IdentityRecord,
  recordedFingerprint,
  type RecordedIdentity,
} from "../identity/deployment_identity.ts";
import { redactUrl } from "./redact_url.ts";
import { driverOptions } from "./registry_postgres.ts";

const TABLE = `
CREATE TABLE IF NOT EXISTS deployment_identity (
  id smallint PRIMARY KEY CHECK (id = 1),
  certificate text NOT NULL,
  private_key text,
  fingerprint text NOT NULL,
  recorded_at bigint NOT NULL
)`;

/** Serializes creating the table across instances. */
const TABLE_LOCK = 0x46544944_454e5459n; // "FTIDENTY"

/** The deployment's identity in PostgreSQL. */
export class PostgresIdentityRecord implements IdentityRecord {
  #sql: postgres.Sql;

  private constructor(sql: postgres.Sql) {
    this.#sql = sql;
  }

  /**
   * Connects (one connection) and creates the table if missing.
   *
   * @throws {RegistryError} when the registry cannot be reached or used.
   */
  static async open(url: string): Promise<PostgresIdentityRecord> {
    const sql = postgres(url, driverOptions(url, 1));
    try {
      await sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${TABLE_LOCK.toString()}::bigint)`;
        await tx.unsafe(TABLE);
      });
    } catch (error) {
      await sql.end({ timeout: 1 }).catch(() => {});
      throw new RegistryError(
        `Cannot read the deployment's identity in ${redactUrl(url)}: ${errorMessage(error)}`,
        { cause: error },
      );
    }
    return new PostgresIdentityRecord(sql);
  }

  async read(): Promise<RecordedIdentity | undefined> {
    const [row] = await this.#sql`
      SELECT certificate, private_key FROM deployment_identity WHERE id = 1`;
    if (row === undefined) return undefined;
    return {
      certificatePem: row.certificate as string,
      privateKeyPem: (row.private_key as string | null) ?? undefined,
    };
  }

  async publish(identity: RecordedIdentity): Promise<RecordedIdentity> {
    await this.#sql`
      INSERT INTO deployment_identity (id, certificate, private_key, fingerprint, recorded_at)
      VALUES (1, ${identity.certificatePem}, ${identity.privateKeyPem ?? null},
              ${formatFingerprint(await recordedFingerprint(identity))}, ${Date.now()})
      ON CONFLICT (id) DO NOTHING`;
    const recorded = await this.read();
    if (recorded === undefined) throw new RegistryError("Cannot record the identity: it vanished");
    return recorded;
  }

  async replace(identity: RecordedIdentity): Promise<void> {
    await this.#sql`
      INSERT INTO deployment_identity (id, certificate, private_key, fingerprint, recorded_at)
      VALUES (1, ${identity.certificatePem}, ${identity.privateKeyPem ?? null},
              ${formatFingerprint(await recordedFingerprint(identity))}, ${Date.now()})
      ON CONFLICT (id) DO UPDATE SET certificate = EXCLUDED.certificate,
        private_key = EXCLUDED.private_key, fingerprint = EXCLUDED.fingerprint,
        recorded_at = EXCLUDED.recorded_at`;
  }

  async close(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
  }
}
