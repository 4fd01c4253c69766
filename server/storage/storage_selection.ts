/**
 * Chooses the server's registry and file store from its options and
 * environment, and opens them: the one place that knows every engine.
 *
 * | option       | environment        | value                                   | default                      |
 * | ------------ | ------------------ | --------------------------------------- | ---------------------------- |
 * | `--registry` | `FT_REGISTRY_URL`  | `postgres://user:password@host:port/db` | SQLite `server.db` in `--dir` |
 * | `--store`    | `FT_STORE`         | `s3://bucket`, or a folder              | `received_files/` in `--dir` |
 * |              | `FT_S3_ENDPOINT`   | the S3 gateway, `http(s)://host:port`   | (required with `s3://`)      |
 * |              | `AWS_REGION`       | region to sign for                      | `us-east-1`                  |
 * |              | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` | credentials   | (required with `s3://`)      |
 *
 * Options win over the environment. Any mix works: PostgreSQL with a local
 * folder (on storage every instance mounts), SQLite with S3 (one instance).
 * With a shared registry and a local folder, start-up leaves alone the
 * temporary files that changed in the last {@linkcode SHARED_FOLDER_GRACE_MS}
 * (another instance may be writing them).
 *
 * @example
 * ```ts ignore
 * const selection = storageSelection({ registry: "postgres://ft@db/ft" }, (n) => Deno.env.get(n));
 * const storage = await openStorage(".data", selection);
 * ```
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { join } from "node:path";
import { StartupError } from "../errors.ts";
import type { FileStore } from "./file_store.ts";
import { LocalFileStore, RECEIVED_FILES_DIR } from "./file_store_local.ts";
import { type InstanceLiveness, soleInstance } from "./instance_liveness.ts";
import { redactUrl } from "./redact_url.ts";
import type { Registry } from "./registry.ts";
import { SqliteRegistry } from "./registry_sqlite.ts";
import type { S3Settings } from "./s3_client.ts";
import { DATABASE_FILE, type Storage, storageOf } from "./storage.ts";

/** Environment variables read by {@linkcode storageSelection}. */
export const STORAGE_ENV = [
  "FT_REGISTRY_URL",
  "FT_STORE",
  "FT_S3_ENDPOINT",
  "AWS_REGION",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
] as const;

/** Region used when `AWS_REGION` is not set (S3-compatible gateways accept any). */
export const DEFAULT_S3_REGION = "us-east-1";

/** With a shared registry and a local folder, temporary files younger than this are kept. */
export const SHARED_FOLDER_GRACE_MS = 10 * 60 * 1000;

/** Which engines to use. */
export interface StorageSelection {
  /** PostgreSQL URL, or undefined for SQLite in the data folder. */
  registryUrl?: string | undefined;
  /** The S3 store, or undefined for a local folder. */
  s3?: (S3Settings & { bucket: string }) | undefined;
  /** The local folder when not S3; undefined for `received_files/` in the data folder. */
  folder?: string | undefined;
}

/** The storage options or environment are wrong (a start-up failure, one line). */
export class StorageSelectionError extends StartupError {
  /**
   * Creates the error.
   *
   * @param message `Cannot use <what>: <reason>`.
   * @param options Standard error options.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StorageSelectionError";
  }
}

/**
 * Reads the selection from the options (`--registry`, `--store`) and the
 * environment (see the module table); `env` returns a variable or undefined.
 *
 * @throws {StorageSelectionError} for a registry that is not a PostgreSQL
 * URL, or an `s3://` store without its endpoint or credentials.
 */
export function storageSelection(
  options: { registry?: string | undefined; store?: string | undefined },
  env: (name: (typeof STORAGE_ENV)[number]) => string | undefined,
): StorageSelection {
  const registryUrl = options.registry ?? env("FT_REGISTRY_URL");
  if (registryUrl !== undefined && !/^postgres(ql)?:\/\//.test(registryUrl)) {
    throw new StorageSelectionError(
      `Cannot use registry ${JSON.stringify(redactUrl(registryUrl))}: ` +
        "give a PostgreSQL URL, postgres://user:password@host:port/database",
    );
  }
  const store = options.store ?? env("FT_STORE");
  if (store === undefined || !store.startsWith("s3://")) return { registryUrl, folder: store };
  const bucket = store.slice("s3://".length).replace(/\/$/, "");
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new StorageSelectionError(
      `Cannot use store ${store}: ${JSON.stringify(bucket)} is not a bucket name`,
    );
  }
  const missing = (["FT_S3_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] as const)
    .filter((name) => (env(name) ?? "") === "");
  if (missing.length > 0) {
    throw new StorageSelectionError(
      `Cannot use store ${store}: set ${missing.join(", ")} in the environment`,
    );
  }
  return {
    registryUrl,
    s3: {
      bucket,
      endpoint: env("FT_S3_ENDPOINT")!,
      region: env("AWS_REGION") || DEFAULT_S3_REGION,
      accessKeyId: env("AWS_ACCESS_KEY_ID")!,
      secretAccessKey: env("AWS_SECRET_ACCESS_KEY")!,
    },
  };
}

/** Whether the selection is the default pair (SQLite and `received_files/` in the data folder). */
export function isDefaultSelection(selection: StorageSelection): boolean {
  return selection.registryUrl === undefined && selection.s3 === undefined &&
    selection.folder === undefined;
}

/** A short description of the selection for the start-up log (no secrets). */
export function describeSelection(selection: StorageSelection): string {
  const registry = selection.registryUrl === undefined
    ? "SQLite"
    : `PostgreSQL ${redactUrl(selection.registryUrl)}`;
  const store = selection.s3 !== undefined
    ? `S3 bucket ${selection.s3.bucket} at ${selection.s3.endpoint}`
    : `folder ${selection.folder ?? RECEIVED_FILES_DIR}`;
  return `registry: ${registry}; files: ${store}`;
}

/** Where a stored file is, for people: `s3://bucket/<key>` or a path. */
export function locationOf(selection: StorageSelection, dir: string, location: string): string {
  if (selection.s3 !== undefined) return `s3://${selection.s3.bucket}/${location}`;
  return join(selection.folder ?? join(dir, RECEIVED_FILES_DIR), location);
}

/**
 * A local folder shared by instances through a shared registry: start-up
 * removes only the temporary files nobody has written to for a while, since
 * another live instance may own the others.
 */
class SharedFolderStore implements FileStore {
  #inner: LocalFileStore;

  constructor(inner: LocalFileStore) {
    this.#inner = inner;
  }

  begin: FileStore["begin"] = (clientId, fileName) => this.#inner.begin(clientId, fileName);
  recover: FileStore["recover"] = (intent) => this.#inner.recover(intent);
  delete: FileStore["delete"] = (location) => this.#inner.delete(location);
  list: FileStore["list"] = (clientId) => this.#inner.list(clientId);
  close: FileStore["close"] = () => this.#inner.close();

  removeAbandoned(isLive: (stagingRef: string) => boolean | Promise<boolean>): Promise<string[]> {
    const root = this.#inner.root;
    return this.#inner.removeAbandoned(async (ref) => {
      if (await isLive(ref)) return true;
      try {
        const changed = (await Deno.stat(join(root, ref))).mtime?.getTime() ?? 0;
        return Date.now() - changed < SHARED_FOLDER_GRACE_MS;
      } catch {
        return true; // gone already: nothing to remove
      }
    });
  }
}

async function openRegistry(
  dir: string,
  selection: StorageSelection,
): Promise<{ registry: Registry; liveness: InstanceLiveness }> {
  if (selection.registryUrl === undefined) {
    return {
      registry: await SqliteRegistry.open(join(dir, DATABASE_FILE)),
      liveness: soleInstance(),
    };
  }
  // Loaded only when chosen: the default server needs neither driver.
  const { PostgresRegistry } = await import("./registry_postgres.ts");
  const registry = await PostgresRegistry.open(selection.registryUrl);
  return { registry, liveness: registry };
}

/**
 * Opens the selected registry and file store for the data folder `dir`.
 *
 * @throws {StartupError} (a `RegistryError` or an `ObjectStoreError`) when an
 * engine cannot be reached or used.
 */
export async function openStorage(dir: string, selection: StorageSelection): Promise<Storage> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  const { registry, liveness } = await openRegistry(dir, selection);
  try {
    let store: FileStore;
    if (selection.s3 !== undefined) {
      const { S3FileStore } = await import("./file_store_s3.ts");
      store = await S3FileStore.open({ ...selection.s3, liveness });
    } else {
      const local = await LocalFileStore.open(selection.folder ?? join(dir, RECEIVED_FILES_DIR));
      store = selection.registryUrl === undefined ? local : new SharedFolderStore(local);
    }
    return storageOf(registry, store);
  } catch (error) {
    await registry.close();
    throw error;
  }
}

/**
 * A variable of the environment, or undefined when it is unset or the server
 * may not read it (then it cannot have been meant for this server).
 */
export function environment(name: string): string | undefined {
  if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
    return undefined;
  }
  return Deno.env.get(name);
}

/**
 * What `server` runs with: the storage the options and environment select,
 * opened, or undefined for the default pair (which the server opens itself).
 *
 * @throws {StartupError} when the selection is wrong or an engine cannot be used.
 */
export async function openSelectedStorage(
  dir: string,
  options: { registry?: string | undefined; store?: string | undefined },
): Promise<Storage | undefined> {
  const selection = storageSelection(options, environment);
  if (isDefaultSelection(selection)) return undefined;
  const storage = await openStorage(dir, selection);
  getLogger(["server"]).info("Storage: {storage}", { storage: describeSelection(selection) });
  return storage;
}
