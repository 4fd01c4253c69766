/**
 * One SQLite database file of the registry (`node:sqlite`, WAL mode): opened
 * with its schema brought up to date (`sqlite_schema.ts`), its files 0600
 * whatever the umask, its statements prepared once and kept, and
 * `BEGIN IMMEDIATE` transactions.
 *
 * @example
 * ```ts
 * import { SqliteDatabase } from "./sqlite_database.ts";
 *
 * const db = await SqliteDatabase.open(":memory:");
 * console.log(db.get("SELECT count(*) AS n FROM clients")); // { n: 0 }
 * db.close();
 * ```
 *
 * @module
 */

import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { RegistryError } from "../errors.ts";
import { applySchema } from "./sqlite_schema.ts";
import type { Row } from "./sqlite_rows.ts";

/** Makes the database files 0600 (those that exist). */
async function makePrivate(path: string): Promise<void> {
  if (Deno.build.os === "windows" || path === ":memory:") return;
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    await Deno.chmod(file, 0o600).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }
}

/** Creates the database file 0600 before SQLite opens it, so it is never readable by others. */
async function createPrivate(path: string): Promise<void> {
  if (path === ":memory:") return;
  try {
    (await Deno.open(path, { write: true, createNew: true, mode: 0o600 })).close();
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
}

/** The registry's database, its statements prepared once. */
export class SqliteDatabase {
  #db: DatabaseSync;
  #statements = new Map<string, StatementSync>();

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /**
   * Opens (creating if needed, migrating an older schema) the database at
   * `path`, in WAL mode, its files 0600.
   *
   * @throws {RegistryError} `Cannot open database <path>: <reason>` if the
   * file is locked, corrupt or not a database.
   */
  static async open(path: string): Promise<SqliteDatabase> {
    let db: DatabaseSync | undefined;
    try {
      await createPrivate(path);
      // Foreign keys are enforced once the schema is migrated (tables are swapped).
      db = new DatabaseSync(path, { timeout: 2000, enableForeignKeyConstraints: false });
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
      applySchema(db);
      db.exec("PRAGMA foreign_keys = ON");
      db.prepare("SELECT count(*) FROM clients").get();
      await makePrivate(path);
    } catch (error) {
      try {
        db?.close();
      } catch { /* already failing */ }
      const reason = error instanceof Error ? error.message : String(error);
      throw new RegistryError(`Cannot open database ${path}: ${reason}`, { cause: error });
    }
    return new SqliteDatabase(db);
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** The first row `sql` returns, if any. */
  get(sql: string, ...params: SQLInputValue[]): Row | undefined {
    return this.#statement(sql).get(...params) as Row | undefined;
  }

  /** Every row `sql` returns. */
  all(sql: string, ...params: SQLInputValue[]): Row[] {
    return this.#statement(sql).all(...params) as Row[];
  }

  /** Runs `sql`; returns how many rows it changed. */
  run(sql: string, ...params: SQLInputValue[]): number {
    return Number(this.#statement(sql).run(...params).changes);
  }

  /** Runs `fn` in one `BEGIN IMMEDIATE` transaction, rolled back if it throws. */
  transaction<T>(fn: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = fn();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Closes the database. */
  close(): void {
    this.#statements.clear();
    this.#db.close();
  }
}
