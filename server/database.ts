/**
 * The server's registry: one SQLite file (`node:sqlite`, WAL mode) holding the
 * clients and the files they uploaded. Synchronous and small: every call is
 * one short statement.
 *
 * ```text
 * clients(id BLOB PK, name TEXT UNIQUE, public_key BLOB NULL, last_seen INTEGER)
 * files(client_id BLOB, file_name TEXT, path TEXT, size INTEGER, cksum INTEGER,
 *       verified INTEGER, time INTEGER, PK(client_id, file_name))
 * ```
 *
 * Times are milliseconds since the epoch.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { ClientId } from "../protocol/mod.ts";
import { RegistryError } from "./errors.ts";

/** A registered client. */
export interface ClientRecord {
  /** The 16-byte id the server gave it. */
  id: ClientId;
  /** Its unique name. */
  name: string;
  /** Its 160-byte public key, once it sent one (826). */
  publicKey: Uint8Array | undefined;
  /** When it was last seen, in milliseconds since the epoch. */
  lastSeen: number;
}

/** A file a client uploaded and the server kept. */
export interface FileRecord {
  /** The owner. */
  clientId: ClientId;
  /** The file name as received (a safe single path component). */
  fileName: string;
  /** Where it is stored. */
  path: string;
  /** Its size in bytes. */
  size: number;
  /** Its POSIX cksum. */
  cksum: number;
  /** Whether the client confirmed the cksum (900). */
  verified: boolean;
  /** When it was stored, in milliseconds since the epoch. */
  time: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS clients (
  id BLOB PRIMARY KEY NOT NULL,
  name TEXT NOT NULL UNIQUE,
  public_key BLOB,
  last_seen INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
  client_id BLOB NOT NULL REFERENCES clients(id),
  file_name TEXT NOT NULL,
  path TEXT NOT NULL,
  size INTEGER NOT NULL,
  cksum INTEGER NOT NULL,
  verified INTEGER NOT NULL,
  time INTEGER NOT NULL,
  PRIMARY KEY (client_id, file_name)
);
`;

type Row = Record<string, unknown>;

function toClient(row: Row | undefined): ClientRecord | undefined {
  if (row === undefined) return undefined;
  return {
    id: new Uint8Array(row.id as Uint8Array),
    name: row.name as string,
    publicKey: row.public_key == null ? undefined : new Uint8Array(row.public_key as Uint8Array),
    lastSeen: Number(row.last_seen),
  };
}

function toFile(row: Row | undefined): FileRecord | undefined {
  if (row === undefined) return undefined;
  return {
    clientId: new Uint8Array(row.client_id as Uint8Array),
    fileName: row.file_name as string,
    path: row.path as string,
    size: Number(row.size),
    cksum: Number(row.cksum),
    verified: Number(row.verified) !== 0,
    time: Number(row.time),
  };
}

/** The clients and files registry over one SQLite file. */
export class ServerDatabase {
  #db: DatabaseSync;
  #statements = new Map<string, StatementSync>();

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /**
   * Opens (creating if needed) the database at `path`, in WAL mode.
   *
   * @throws {RegistryError} `Cannot open database <path>: <reason>` if the file is
   * locked, corrupt or not a database.
   */
  static open(path: string): ServerDatabase {
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path, { timeout: 2000 });
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
      db.exec("PRAGMA foreign_keys = ON");
      db.exec(SCHEMA);
      db.prepare("SELECT count(*) FROM clients").get();
    } catch (error) {
      try {
        db?.close();
      } catch { /* already failing */ }
      const reason = error instanceof Error ? error.message : String(error);
      throw new RegistryError(`Cannot open database ${path}: ${reason}`, { cause: error });
    }
    return new ServerDatabase(db);
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** The client called `name`, if any. */
  clientByName(name: string): ClientRecord | undefined {
    return toClient(this.#statement("SELECT * FROM clients WHERE name = ?").get(name));
  }

  /** The client with id `id`, if any. */
  clientById(id: ClientId): ClientRecord | undefined {
    return toClient(this.#statement("SELECT * FROM clients WHERE id = ?").get(id));
  }

  /**
   * Registers a new client. Returns `false`, and changes nothing, when the
   * name (or, improbably, the id) is taken.
   */
  addClient(id: ClientId, name: string, now: number = Date.now()): boolean {
    const result = this.#statement(
      "INSERT INTO clients (id, name, public_key, last_seen) VALUES (?, ?, NULL, ?) ON CONFLICT DO NOTHING",
    ).run(id, name, now);
    return Number(result.changes) === 1;
  }

  /** Stores a client's public key and marks it seen. */
  setPublicKey(id: ClientId, publicKey: Uint8Array, now: number = Date.now()): void {
    this.#statement("UPDATE clients SET public_key = ?, last_seen = ? WHERE id = ?").run(
      publicKey,
      now,
      id,
    );
  }

  /** Marks a client seen now. */
  touchClient(id: ClientId, now: number = Date.now()): void {
    this.#statement("UPDATE clients SET last_seen = ? WHERE id = ?").run(now, id);
  }

  /**
   * Records a kept file, unverified, replacing the record of an older file
   * of the same name from the same client.
   */
  putFile(file: Omit<FileRecord, "verified" | "time">, now: number = Date.now()): void {
    this.#statement(
      `INSERT INTO files (client_id, file_name, path, size, cksum, verified, time)
       VALUES (?, ?, ?, ?, ?, 0, ?)
       ON CONFLICT (client_id, file_name) DO UPDATE SET
         path = excluded.path, size = excluded.size, cksum = excluded.cksum,
         verified = 0, time = excluded.time`,
    ).run(file.clientId, file.fileName, file.path, file.size, file.cksum, now);
  }

  /** Marks a file verified; returns whether there was such a file. */
  verifyFile(clientId: ClientId, fileName: string): boolean {
    const result = this.#statement(
      "UPDATE files SET verified = 1 WHERE client_id = ? AND file_name = ?",
    ).run(clientId, fileName);
    return Number(result.changes) === 1;
  }

  /** Forgets a file; returns whether there was such a file. */
  deleteFile(clientId: ClientId, fileName: string): boolean {
    const result = this.#statement("DELETE FROM files WHERE client_id = ? AND file_name = ?").run(
      clientId,
      fileName,
    );
    return Number(result.changes) === 1;
  }

  /** The record of a file, if any. */
  file(clientId: ClientId, fileName: string): FileRecord | undefined {
    return toFile(
      this.#statement("SELECT * FROM files WHERE client_id = ? AND file_name = ?").get(
        clientId,
        fileName,
      ),
    );
  }

  /** Closes the database. Further calls throw. */
  close(): void {
    this.#statements.clear();
    this.#db.close();
  }
}
