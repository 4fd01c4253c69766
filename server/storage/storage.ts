/**
 * The server's storage: a {@linkcode Registry} and a {@linkcode FileStore}.
 * The default pair is SQLite (`server.db`) and a local folder
 * (`received_files/`) in the data folder.
 *
 * @example
 * ```ts
 * import { openLocalStorage } from "./storage.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const storage = await openLocalStorage(dir);
 * console.log(await storage.registry.listClients()); // []
 * await storage.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { join } from "node:path";
import type { FileStore } from "./file_store.ts";
import { LocalFileStore, RECEIVED_FILES_DIR } from "./file_store_local.ts";
import type { Registry } from "./registry.ts";
import { SqliteRegistry } from "./registry_sqlite.ts";

/** Name of the SQLite database file in the data folder. */
export const DATABASE_FILE = "server.db";

/** A registry and a file store, opened together. */
export interface Storage {
  /** The clients and files registry. */
  registry: Registry;
  /** Where uploads are staged and stored. */
  store: FileStore;
  /** Closes both. */
  close(): Promise<void>;
}

/** Pairs a registry and a store into a {@linkcode Storage}. */
export function storageOf(registry: Registry, store: FileStore): Storage {
  return {
    registry,
    store,
    async close() {
      try {
        await store.close();
      } finally {
        await registry.close();
      }
    },
  };
}

/**
 * Opens the default storage in the data folder `dir` (created 0700 if
 * missing; an existing one keeps its mode): `server.db` and `received_files/`.
 *
 * @throws {RegistryError} `Cannot open database ...` when the database is
 * locked, corrupt or not a database (see `errors.ts`).
 */
export async function openLocalStorage(dir: string): Promise<Storage> {
  // The data folder may be the working directory: made 0700 only if new.
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const store = await LocalFileStore.open(join(dir, RECEIVED_FILES_DIR));
  const registry = await SqliteRegistry.open(join(dir, DATABASE_FILE));
  return storageOf(registry, store);
}
