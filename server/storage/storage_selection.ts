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
import type { IdentityRecord } from "../identity/deployment_identity.ts";
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
 * environment (see the module table); `env` returns a variable or undefined,
 * `mayRead` whether the server may read it at all (so that a variable it may
 * not read is never reported as unset).
 *
 * @throws {StorageSelectionError} for a registry that is not a PostgreSQL
 * URL, or an `s3://` store without its endpoint or credentials.
 */
export function storageSelection(
  options: { registry?: string | undefined; store?: string | undefined },
  env: (name: (typeof STORAGE_ENV)[number]) => string | undefined,
  mayRead: (name: (typeof STORAGE_ENV)[number]) => boolean = () => true,
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
  const unreadable = missing.filter((name) => !mayRead(name));
  if (unreadable.length > 0) {
    throw new StorageSelectionError(
      `Cannot use store ${store}: the server may not read ${unreadable.join(", ")} from the ` +
        "environment; run it with --allow-env (as deno task server and the compiled server do)",
    );
  }
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

/**
 * A local folder shared by instances through a shared registry: start-up
 * and the running sweep remove only the temporary files nobody has written
 * to for a while ({@linkcode SHARED_FOLDER_GRACE_MS}), since another live
 * instance may own the others.
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
  describe: FileStore["describe"] = (location) => this.#inner.describe(location);
  openRead: FileStore["openRead"] = (location, offset) => this.#inner.openRead(location, offset);
  close: FileStore["close"] = () => this.#inner.close();
  resume: FileStore["resume"] = (clientId, fileName, ref, length) =>
    this.#inner.resume(clientId, fileName, ref, length);
  readStaged: FileStore["readStaged"] = (clientId, fileName, ref, length) =>
    this.#inner.readStaged(clientId, fileName, ref, length);
  discardStaged: FileStore["discardStaged"] = (clientId, fileName, ref) =>
    this.#inner.discardStaged(clientId, fileName, ref);
  holdStaged: FileStore["holdStaged"] = (ref) => this.#inner.holdStaged(ref);

  /** As the folder's, but only what nobody wrote to for {@linkcode SHARED_FOLDER_GRACE_MS} at least. */
  sweepStaged: FileStore["sweepStaged"] = (rule) =>
    this.#inner.sweepStaged({
      ...rule,
      olderThanMs: Math.max(rule.olderThanMs, SHARED_FOLDER_GRACE_MS),
    });

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

/** Whether the server may read the environment variable `name` (`--allow-env`). */
export function mayReadEnvironment(name: string): boolean {
  return Deno.permissions.querySync({ name: "env", variable: name }).state === "granted";
}

/**
 * A variable of the environment, or undefined when it is unset or the server
 * may not read it ({@linkcode environmentWarnings} says so at start-up).
 */
export function environment(name: string): string | undefined {
  return mayReadEnvironment(name) ? Deno.env.get(name) : undefined;
}

/** The S3 settings, used only with an `s3://` store. */
const S3_ENV = ["FT_S3_ENDPOINT", "AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];

/** What {@linkcode environmentWarnings} looks at. */
export interface EnvironmentView {
  /** A variable's value, or undefined when unset or unreadable. */
  get(name: string): string | undefined;
  /** Whether the server may read `name`. */
  mayRead(name: string): boolean;
  /** Every variable's name, or undefined when the server may not list them. */
  names(): string[] | undefined;
}

/** The process's environment, as far as the server's permissions let it see. */
export const PROCESS_ENVIRONMENT: EnvironmentView = {
  get: environment,
  mayRead: mayReadEnvironment,
  names: () =>
    Deno.permissions.querySync({ name: "env" }).state === "granted"
      ? Object.keys(Deno.env.toObject())
      : undefined,
};

/**
 * The settings this start will not use, one line each, for the start-up log:
 * storage variables the server may not read (no `--allow-env`), variables set
 * but overridden by an option or meaningless for the chosen store, `FT_*`
 * names the server does not know, and a shared registry whose files stay in
 * this instance's own folder. Never silently ignored (issue 19).
 *
 * @example
 * ```ts
 * import { environmentWarnings } from "./storage_selection.ts";
 * const env: Record<string, string> = { FT_S3_ENDPOINT: "http://s3:7480" };
 * const warnings = environmentWarnings({}, {}, {
 *   get: (name) => env[name],
 *   mayRead: () => true,
 *   names: () => Object.keys(env),
 * });
 * console.assert(warnings.length === 1);
 * ```
 */
export function environmentWarnings(
  options: { registry?: string | undefined; store?: string | undefined },
  selection: StorageSelection,
  env: EnvironmentView,
): string[] {
  const warnings: string[] = [];
  const relevant = [
    ...(options.registry === undefined ? ["FT_REGISTRY_URL"] : []),
    ...(options.store === undefined ? ["FT_STORE"] : []),
  ];
  const unreadable = relevant.filter((name) => !env.mayRead(name));
  if (unreadable.length > 0) {
    warnings.push(
      `Cannot read ${unreadable.join(" and ")} from the environment: the server runs without ` +
        "--allow-env, so they are ignored if set. Run it with --allow-env, or give " +
        unreadable.map((name) => name === "FT_STORE" ? "--store" : "--registry").join(" and "),
    );
  }
  const overridden = [
    ["FT_REGISTRY_URL", "--registry", options.registry],
    ["FT_STORE", "--store", options.store],
  ] as const;
  for (const [name, option, value] of overridden) {
    const set = env.get(name);
    if (value !== undefined && set !== undefined && set !== value) {
      warnings.push(`${name} is set but not used: ${option} gives another value, which wins`);
    }
  }
  const s3Set = S3_ENV.filter((name) => (env.get(name) ?? "") !== "");
  if (selection.s3 === undefined && s3Set.some((name) => name !== "AWS_REGION")) {
    warnings.push(
      `${s3Set.join(", ")} ${s3Set.length === 1 ? "is" : "are"} set but not used: the files go ` +
        `to ${describeSelection(selection).replace(/^.*files: /, "")}, not to S3 ` +
        "(give --store s3://BUCKET or FT_STORE=s3://BUCKET to use it)",
    );
  }
  const known = new Set<string>(STORAGE_ENV);
  const unknown = (env.names() ?? []).filter((name) => name.startsWith("FT_") && !known.has(name));
  if (unknown.length > 0) {
    warnings.push(
      `${unknown.join(", ")} ${unknown.length === 1 ? "is" : "are"} set but not used: the ` +
        "server reads FT_REGISTRY_URL, FT_STORE and FT_S3_ENDPOINT only (a misspelling?)",
    );
  }
  if (selection.registryUrl !== undefined && selection.s3 === undefined && !selection.folder) {
    warnings.push(
      "The registry is shared (PostgreSQL) but the files go to this instance's own " +
        `${RECEIVED_FILES_DIR}/: other instances cannot see them. Give --store s3://BUCKET, ` +
        "or a folder every instance mounts",
    );
  }
  return warnings;
}

/**
 * What `server` runs with: the storage the options and environment select,
 * opened, or undefined for the default pair (which the server opens itself).
 * Logs the selection, and a warning for each setting it will not use
 * ({@linkcode environmentWarnings}).
 *
 * @throws {StartupError} when the selection is wrong or an engine cannot be used.
 */
export async function openSelectedStorage(
  dir: string,
  options: { registry?: string | undefined; store?: string | undefined },
  env: EnvironmentView = PROCESS_ENVIRONMENT,
): Promise<{ storage: Storage | undefined; selection: StorageSelection }> {
  const logger = getLogger(["server"]);
  const selection = storageSelection(options, env.get, env.mayRead);
  for (const warning of environmentWarnings(options, selection, env)) {
    logger.warn("{warning}", { warning });
  }
  if (isDefaultSelection(selection)) return { storage: undefined, selection };
  const storage = await openStorage(dir, selection);
  logger.info("Storage: {storage}", { storage: describeSelection(selection) });
  return { storage, selection };
}

/**
 * Where a shared registry keeps the deployment's identity
 * (`server/identity/deployment_identity.ts`), or undefined with SQLite.
 *
 * @throws {RegistryError} when the registry cannot be reached.
 */
export async function openIdentityRecord(
  selection: StorageSelection,
): Promise<IdentityRecord | undefined> {
  if (selection.registryUrl === undefined) return undefined;
  const { PostgresIdentityRecord } = await import("./identity_record_postgres.ts");
  return await PostgresIdentityRecord.open(selection.registryUrl);
}
