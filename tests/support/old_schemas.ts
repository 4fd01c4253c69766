/**
 * Registry schemas as older releases left them, for the tests that open an
 * older registry and see it upgraded.
 *
 * @module
 */

/**
 * The SQLite schema of version 2: before the dialect column and before
 * SHA-256s were recorded.
 */
export const SQLITE_VERSION_2: string = `
CREATE TABLE clients (id BLOB PRIMARY KEY NOT NULL, name TEXT NOT NULL UNIQUE,
  public_key BLOB NOT NULL, registered_at INTEGER NOT NULL, last_seen INTEGER NOT NULL);
CREATE TABLE files (client_id BLOB NOT NULL REFERENCES clients(id), file_name TEXT NOT NULL,
  location TEXT NOT NULL, size INTEGER NOT NULL, cksum INTEGER NOT NULL,
  verified INTEGER NOT NULL, time INTEGER NOT NULL, PRIMARY KEY (client_id, file_name));
CREATE TABLE intents (id INTEGER PRIMARY KEY AUTOINCREMENT, client_id BLOB NOT NULL,
  file_name TEXT NOT NULL, location TEXT NOT NULL, staging_ref TEXT NOT NULL,
  size INTEGER NOT NULL, cksum INTEGER NOT NULL, instance_id TEXT NOT NULL,
  created_at INTEGER NOT NULL);
PRAGMA user_version = 2;
`;
