/**
 * The SQLite registry's schema, and bringing an existing database to it.
 *
 * ```text
 * clients(id BLOB PK, name TEXT UNIQUE, public_key BLOB, registered_at INTEGER, last_seen INTEGER,
 *         dialect TEXT)
 * files(client_id BLOB, file_name TEXT, location TEXT, size INTEGER, cksum INTEGER,
 *       verified INTEGER, time INTEGER, sha256 TEXT NULL, PK(client_id, file_name))
 * intents(id INTEGER PK, client_id BLOB, file_name TEXT, location TEXT, staging_ref TEXT,
 *         size INTEGER, cksum INTEGER, instance_id TEXT, created_at INTEGER, sha256 TEXT NULL)
 * partials(client_id BLOB, file_name TEXT, staging_ref TEXT, size INTEGER, received INTEGER,
 *          prefix_sha256 TEXT NULL, prefix_crc INTEGER NULL, instance_id TEXT, kept_at INTEGER,
 *          reserved_by TEXT NULL, PK(client_id, file_name))
 * reservations(token TEXT PK, client_id BLOB, file_name TEXT, size INTEGER, instance_id TEXT,
 *              created_at INTEGER)
 * ```
 *
 * Columns added after version 2 are additive: created when missing on an
 * existing database, `NULL` in older rows (a file stored before SHA-256s
 * were recorded has none).
 *
 * Times are milliseconds since the epoch. The schema version is kept in
 * `PRAGMA user_version`; a database of the first version (clients without a
 * key, `files.path`) is migrated when opened: clients whose key never came
 * are dropped (a name reserves nothing without its key), `registered_at`
 * starts as the last time seen, and locations become `<id hex>/<name>`.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";

/** The schema version this code writes. */
export const SCHEMA_VERSION = 2;

const CLIENTS_COLUMNS = `(
  id BLOB PRIMARY KEY NOT NULL,
  name TEXT NOT NULL UNIQUE,
  public_key BLOB NOT NULL,
  registered_at INTEGER NOT NULL,
  last_seen INTEGER NOT NULL
)`;
const FILES_COLUMNS = `(
  client_id BLOB NOT NULL REFERENCES clients(id),
  file_name TEXT NOT NULL,
  location TEXT NOT NULL,
  size INTEGER NOT NULL,
  cksum INTEGER NOT NULL,
  verified INTEGER NOT NULL,
  time INTEGER NOT NULL,
  PRIMARY KEY (client_id, file_name)
)`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS clients ${CLIENTS_COLUMNS};
CREATE TABLE IF NOT EXISTS files ${FILES_COLUMNS};
CREATE TABLE IF NOT EXISTS intents (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  client_id BLOB NOT NULL,
  file_name TEXT NOT NULL,
  location TEXT NOT NULL,
  staging_ref TEXT NOT NULL,
  size INTEGER NOT NULL,
  cksum INTEGER NOT NULL,
  instance_id TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
`;

/** Added after version 2, created if missing: cut uploads kept for a resume (issue 20). */
const PARTIALS = `
CREATE TABLE IF NOT EXISTS partials (
  client_id BLOB NOT NULL,
  file_name TEXT NOT NULL,
  staging_ref TEXT NOT NULL,
  size INTEGER NOT NULL,
  received INTEGER NOT NULL,
  prefix_sha256 TEXT,
  prefix_crc INTEGER,
  instance_id TEXT NOT NULL,
  kept_at INTEGER NOT NULL,
  PRIMARY KEY (client_id, file_name)
);
`;

/** Added after version 2, created if missing: uploads in progress (issue 17). */
const RESERVATIONS = `
CREATE TABLE IF NOT EXISTS reservations (
  token TEXT PRIMARY KEY,
  client_id BLOB NOT NULL,
  file_name TEXT NOT NULL,
  size INTEGER NOT NULL,
  instance_id TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
`;

/** From version 1 (clients without a key, files.path) to version 2. */
const MIGRATE_FROM_1 = `
CREATE TABLE clients_v2 ${CLIENTS_COLUMNS};
INSERT INTO clients_v2 (id, name, public_key, registered_at, last_seen)
  SELECT id, name, public_key, last_seen, last_seen FROM clients WHERE public_key IS NOT NULL;
CREATE TABLE files_v2 ${FILES_COLUMNS};
INSERT INTO files_v2 (client_id, file_name, location, size, cksum, verified, time)
  SELECT client_id, file_name, lower(hex(client_id)) || '/' || file_name, size, cksum, verified, time
  FROM files WHERE client_id IN (SELECT id FROM clients_v2);
DROP TABLE files;
DROP TABLE clients;
ALTER TABLE clients_v2 RENAME TO clients;
ALTER TABLE files_v2 RENAME TO files;
`;

/**
 * Brings the database to this code's schema: migrates an older version,
 * adds the columns and tables added since, in one go at opening.
 *
 * @throws {Error} when the database's schema is newer than this code's.
 */
export function applySchema(db: DatabaseSync): void {
  migrate(db);
  db.exec(PARTIALS);
  db.exec(RESERVATIONS);
  addMissingColumns(db);
}

/** Brings the schema to {@linkcode SCHEMA_VERSION}. */
function migrate(db: DatabaseSync): void {
  const version = Number(
    (db.prepare("PRAGMA user_version").get() as Record<string, unknown>).user_version,
  );
  if (version === SCHEMA_VERSION) return;
  if (version > SCHEMA_VERSION) {
    throw new Error(`the schema version is ${version}, newer than this server's ${SCHEMA_VERSION}`);
  }
  const hasClients = db.prepare(
    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'clients'",
  ).get() !== undefined;
  db.exec("BEGIN IMMEDIATE");
  try {
    if (hasClients) db.exec(MIGRATE_FROM_1);
    db.exec(SCHEMA);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

/** Columns added after {@linkcode SCHEMA_VERSION} 2: `[table, column, type]`, created if missing. */
const ADDED_COLUMNS: ReadonlyArray<readonly [string, string, string]> = [
  ["files", "sha256", "TEXT"],
  ["intents", "sha256", "TEXT"],
  // The family of dialects a client registered in (issue 22); existing clients are family A.
  ["clients", "dialect", "TEXT NOT NULL DEFAULT 'A'"],
  // The reservation (its token) of an upload of the partial's path: while it lives, its
  // size counts instead of the partial's bytes (issue 17: a cut upload counts once).
  ["partials", "reserved_by", "TEXT"],
];

/** Adds the {@linkcode ADDED_COLUMNS} an existing database lacks (older rows get `NULL`). */
function addMissingColumns(db: DatabaseSync): void {
  for (const [table, column, type] of ADDED_COLUMNS) {
    const columns = db.prepare(`PRAGMA table_info(${table})`).all() as Array<
      Record<string, unknown>
    >;
    if (!columns.some((c) => c.name === column)) {
      db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${type}`);
    }
  }
}
