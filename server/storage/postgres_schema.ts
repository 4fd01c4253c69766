/**
 * The PostgreSQL registry's schema, created if missing (safe when several
 * instances start at once: an advisory lock serialises them) and checked
 * against this code's version.
 *
 * ```text
 * clients(id bytea PK, name text UNIQUE, public_key bytea, registered_at bigint, last_seen bigint,
 *         dialect text)
 * files(client_id bytea FK, file_name text, location text, size bigint, cksum bigint,
 *       verified boolean, time bigint, sha256 text NULL, PK(client_id, file_name))
 * intents(id bigserial PK, client_id bytea, file_name text, location text, staging_ref text,
 *         size bigint, cksum bigint, instance_id text, holder text, created_at bigint,
 *         sha256 text NULL)
 * commit_locks(key text PK, holder text, acquired_at bigint)
 * partials(client_id bytea, file_name text, staging_ref text, size bigint, received bigint,
 *          prefix_sha256 text NULL, prefix_crc bigint NULL, instance_id text, kept_at bigint,
 *          reserved_by text NULL, PK(client_id, file_name))
 * reservations(token text PK, client_id bytea, file_name text, size bigint, instance_id text,
 *              holder text, created_at bigint)
 * ```
 *
 * Columns and tables added after version 1 are additive: created when
 * missing on an existing database, `NULL` in older rows.
 *
 * @module
 */

import type postgres from "postgres";

/** The schema version this code writes (kept in `ft_schema`). */
export const POSTGRES_SCHEMA_VERSION = 1;

/** Advisory lock (single bigint key) serialising schema creation. */
const SCHEMA_LOCK = 0x46545343_48454d41n; // "FTSCHEMA"

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ft_schema (version integer NOT NULL);
CREATE TABLE IF NOT EXISTS clients (
  id bytea PRIMARY KEY,
  name text NOT NULL UNIQUE,
  public_key bytea NOT NULL,
  registered_at bigint NOT NULL,
  last_seen bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
  client_id bytea NOT NULL REFERENCES clients(id),
  file_name text NOT NULL,
  location text NOT NULL,
  size bigint NOT NULL,
  cksum bigint NOT NULL,
  verified boolean NOT NULL,
  time bigint NOT NULL,
  PRIMARY KEY (client_id, file_name)
);
CREATE TABLE IF NOT EXISTS intents (
  id bigserial PRIMARY KEY,
  client_id bytea NOT NULL,
  file_name text NOT NULL,
  location text NOT NULL,
  staging_ref text NOT NULL,
  size bigint NOT NULL,
  cksum bigint NOT NULL,
  instance_id text NOT NULL,
  holder text NOT NULL,
  created_at bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS intents_client ON intents (client_id);
CREATE TABLE IF NOT EXISTS commit_locks (
  key text PRIMARY KEY,
  holder text NOT NULL,
  acquired_at bigint NOT NULL
);
-- Added after version 1, created if missing: NULL in older rows.
ALTER TABLE files ADD COLUMN IF NOT EXISTS sha256 text;
ALTER TABLE intents ADD COLUMN IF NOT EXISTS sha256 text;
-- Added after version 1, created if missing: cut uploads kept for a resume (issue 20).
CREATE TABLE IF NOT EXISTS partials (
  client_id bytea NOT NULL,
  file_name text NOT NULL,
  staging_ref text NOT NULL,
  size bigint NOT NULL,
  received bigint NOT NULL,
  prefix_sha256 text,
  prefix_crc bigint,
  instance_id text NOT NULL,
  kept_at bigint NOT NULL,
  PRIMARY KEY (client_id, file_name)
);
-- Added after version 1, created if missing: uploads in progress (issue 17).
CREATE TABLE IF NOT EXISTS reservations (
  token text PRIMARY KEY,
  client_id bytea NOT NULL,
  file_name text NOT NULL,
  size bigint NOT NULL,
  instance_id text NOT NULL,
  holder text NOT NULL,
  created_at bigint NOT NULL
);
-- Added after version 1, created if missing: the reservation of an upload of a partial's
-- path, whose size counts instead of the partial's bytes while it lives (issue 17).
ALTER TABLE partials ADD COLUMN IF NOT EXISTS reserved_by text;
`;

/**
 * The family of dialects a client registered in (issue 22): added where it
 * is missing, existing clients being family A.
 */
const ADD_DIALECT =
  "ALTER TABLE clients ADD COLUMN IF NOT EXISTS dialect text NOT NULL DEFAULT 'A'";

/**
 * Creates what is missing of the schema and records or checks its version,
 * in the transaction `tx`.
 *
 * @throws {Error} when the database's schema is newer than this code's.
 */
export async function applySchema(tx: postgres.TransactionSql): Promise<void> {
  await tx`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK.toString()}::bigint)`;
  await tx.unsafe(SCHEMA);
  await tx.unsafe(ADD_DIALECT);
  const [row] = await tx`SELECT max(version) AS version FROM ft_schema`;
  const version = row?.version == null ? undefined : Number(row.version);
  if (version === undefined) {
    await tx`INSERT INTO ft_schema (version) VALUES (${POSTGRES_SCHEMA_VERSION})`;
  } else if (version > POSTGRES_SCHEMA_VERSION) {
    throw new Error(
      `its schema is version ${version}, newer than this server's ${POSTGRES_SCHEMA_VERSION}`,
    );
  }
}
