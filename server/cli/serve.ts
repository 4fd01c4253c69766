/**
 * `server` without a command: prepares the data folder, sends the log to
 * stderr and `server.log`, runs the server until SIGINT (Ctrl-C) or SIGTERM,
 * and shuts it down cleanly.
 *
 * @module
 */

import { errorMessage } from "../../common/error_message.ts";
import { getLogger, type LogLevel } from "@logtape/logtape";
import { fileURLToPath as fromFileUrl } from "node:url";
import { DataFolderError } from "../errors.ts";
import { setupLogging } from "../log/logging.ts";
import {
  DEFAULT_MAX_CONNECTIONS,
  type RunningServer,
  type ServerOptions,
  startServer,
} from "../server.ts";
import { checkDescriptorLimit, probeDescriptors } from "../net/fd_budget.ts";
import {
  openIdentityRecord,
  openSelectedStorage,
  type StorageSelection,
} from "../storage/storage_selection.ts";
import { formatFingerprint } from "../../protocol/fingerprint.ts";
import { type ResolvedIdentity, resolveIdentity } from "../identity/deployment_identity.ts";
import type { SecurePortOptions } from "../net/tls_listener.ts";
import { instrumentStorage, ServerMetrics } from "../observe/metrics.ts";
import { healthOf, type HttpListener, startHttpListener } from "../observe/http_listener.ts";
import { openLocalStorage, type Storage } from "../storage/storage.ts";
import { BufferBudget, DEFAULT_UPLOAD_BUFFER_BUDGET } from "../upload/buffer_budget.ts";
import { serverRunCommand } from "./run_command.ts";

export { LOG_FILE } from "../log/logging.ts";

/** What {@linkcode serve} needs. */
export interface ServeOptions extends ServerOptions {
  /** The lowest level logged. */
  logLevel: LogLevel;
  /** `--registry` (see server/storage/storage_selection.ts). */
  registry?: string;
  /** `--store`. */
  store?: string;
  /** `--identity`: the secure mode's identity file. */
  identity?: string;
  /** `--public-secure-port`: the secure port the discovery answer names. */
  publicSecurePort?: number;
  /** `--http`: where to answer health checks and metrics scrapes; default none. */
  http?: { hostname: string; port: number };
}

/**
 * Runs the server until a signal stops it.
 *
 * @throws {DescriptorLimitError} (from `../net/fd_budget.ts`) when the limit
 * on open files cannot hold `--max-connections`.
 * @throws {DataFolderError} when the data folder cannot be created or its log
 * opened; the start-up errors of {@linkcode startServer}.
 */
export async function serve(options: ServeOptions): Promise<void> {
  const logging = await openLog(options.dir, options.logLevel);
  try {
    checkDescriptorLimit(
      options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
      (count) => probeDescriptors(options.dir, count),
    );
    const { logLevel: _, registry, store, identity, publicSecurePort, http, ...serverOptions } =
      options;
    const selected = await openSelectedStorage(options.dir, { registry, store });
    const { selection } = selected;
    // With --http the metrics watch the storage, so it is opened here even when it is the default.
    const metrics = http === undefined ? undefined : new ServerMetrics();
    const storage = metrics === undefined
      ? selected.storage
      : instrumentStorage(selected.storage ?? await openLocalStorage(options.dir), metrics);
    let secure: SecurePortOptions | undefined;
    try {
      secure = options.securePort === false
        ? undefined
        : await secureModeOf(options.dir, selection, identity, publicSecurePort);
    } catch (error) {
      await storage?.close(); // the server closes it once started
      throw error;
    }
    const uploadBuffers = serverOptions.uploadBuffers ??
      new BufferBudget(DEFAULT_UPLOAD_BUFFER_BUDGET);
    await runUntilSignalled(
      {
        ...serverOptions,
        uploadBuffers,
        ...(storage === undefined ? {} : { storage }),
        ...(secure === undefined ? {} : { secure }),
      },
      metrics === undefined || http === undefined || storage === undefined ? undefined : {
        address: http,
        metrics,
        storage,
        uploadBuffers,
      },
    );
  } finally {
    await logging[Symbol.asyncDispose]();
  }
}

/**
 * The identity the secure port presents (the deployment's with a shared
 * registry, see deployment_identity.ts) and the port it advertises.
 */
async function secureModeOf(
  dir: string,
  selection: StorageSelection,
  identityFile: string | undefined,
  publicSecurePort: number | undefined,
): Promise<SecurePortOptions> {
  const logger = getLogger(["server"]);
  const record = await openIdentityRecord(selection);
  let resolved: ResolvedIdentity | undefined;
  try {
    // Alone with its own folder's identity, the secure port loads (or makes) it as it listens.
    if (record !== undefined || identityFile !== undefined) {
      resolved = await resolveIdentity({ dir, identityFile, record });
      logger.info("Secure mode identity: {origin}", { origin: resolved.origin });
    }
  } finally {
    await record?.close();
  }
  if (record !== undefined && publicSecurePort === undefined) {
    logger.warn(
      "The registry is shared, but no --public-secure-port: the discovery answer names this " +
        "instance's own secure port, so behind a load balancer a client pins this instance and " +
        "bypasses the balancer. Give every instance --public-secure-port with the balancer's",
    );
  }
  if (publicSecurePort !== undefined) {
    logger.info("Discovery answers name secure port {port} (--public-secure-port)", {
      port: publicSecurePort,
    });
  }
  return { identity: resolved?.identity, advertisedPort: publicSecurePort };
}

/** Creates the data folder and sends the log there (see logging.ts). */
async function openLog(dir: string, level: LogLevel): Promise<AsyncDisposable> {
  try {
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 }); // 0700 when new (issue 11 §3)
    return await setupLogging({ dir, level });
  } catch (error) {
    const reason = error instanceof Deno.errors.NotCapable
      ? outsidePermissions(dir)
      : errorMessage(error);
    throw new DataFolderError(`Cannot prepare the data folder ${dir}: ${reason}`, {
      cause: error,
    });
  }
}

/**
 * Why a folder is out of reach, and what to do: the compiled server may use
 * its working directory; `deno task server` may use `.data` only, and the
 * hint is a command that runs as printed (the task's permissions for `dir`,
 * `--no-prompt`, and the rest of `args`, the server's own arguments).
 */
export function outsidePermissions(dir: string, args: readonly string[] = Deno.args): string {
  const granted = (path: string) =>
    Deno.permissions.querySync({ name: "write", path }).state === "granted";
  if (granted(".")) {
    return "this server may only read and write its working directory and what is below it; " +
      "start it from the data folder, or from a folder above it";
  }
  if (granted(".data")) {
    return "deno task server may only read and write .data (the permissions of its task in " +
      `deno.json); for another folder, run \`${runCommandFor(dir, args)}\`, ` +
      "or start the compiled server (deno task compile) in that folder";
  }
  return "the server's --allow-read and --allow-write permissions do not cover it";
}

/** `deno run` with the server task's permissions for `dir`, and `args` with `--dir dir`. */
function runCommandFor(dir: string, args: readonly string[]): string {
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--dir") i++;
    else if (!arg.startsWith("--dir=")) rest.push(arg);
  }
  return serverRunCommand(fromFileUrl(new URL("../main.ts", import.meta.url)), dir, rest);
}

/**
 * Prints the secure mode's fingerprint once more at the end of start-up, on
 * stdout and on a line of its own: on a first start, Deno's download progress
 * on stderr may have drawn over the log's line, and the operator must hand
 * this fingerprint to the users.
 */
function printFingerprint(server: RunningServer, advertised: number | undefined): void {
  if (server.fingerprint === undefined) return;
  const clients = advertised === undefined ? "" : ` (clients reach it as ${advertised})`;
  console.log(
    `server: ready; secure port ${server.securePort}${clients}, certificate fingerprint ` +
      `${formatFingerprint(server.fingerprint)} (give it to your users; ` +
      "`server fingerprint` shows it again)",
  );
}

/** What the `--http` listener answers from. */
interface Observed {
  address: { hostname: string; port: number };
  metrics: ServerMetrics;
  storage: Storage;
  uploadBuffers: BufferBudget;
}

/**
 * Starts the `--http` listener for a started server: its health is 503 from
 * the first signal on, while the server shuts down.
 */
function observe(server: RunningServer, observed: Observed, stopping: () => boolean): HttpListener {
  observed.metrics.observe({
    connections: () => server.connectionStates(),
    buffers: () => ({ inUse: observed.uploadBuffers.inUse, limit: observed.uploadBuffers.total }),
  });
  const http = startHttpListener(observed.address, {
    metrics: observed.metrics,
    health: healthOf(observed.storage, stopping),
  });
  getLogger(["server"]).info(
    "Health on http://{address}/healthz, metrics on http://{address}/metrics",
    { address: http.address },
  );
  return http;
}

async function runUntilSignalled(options: ServerOptions, observed?: Observed): Promise<void> {
  const logger = getLogger(["server"]);
  // Listen for signals before starting: one that arrives while the server
  // starts must not kill it with the database open.
  let server: RunningServer | undefined;
  let stopping = false;
  const onSignal = (signal: Deno.Signal) => () => {
    // Under `deno task`, Ctrl-C reaches the server twice (from the terminal
    // and forwarded by the task runner): a repeat is not a second request.
    // The shutdown is bounded by the grace period anyway.
    if (stopping) {
      logger.debug("{signal} received again: already shutting down", { signal });
      return;
    }
    stopping = true;
    logger.info("{signal} received: shutting down", { signal });
    server?.close();
  };
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const handlers = signals.map((signal) => [signal, onSignal(signal)] as const);
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
  try {
    server = await startServer(options);
    let http: HttpListener | undefined;
    try {
      if (observed !== undefined) http = observe(server, observed, () => stopping);
    } catch (error) {
      await server.close();
      throw error;
    }
    if (stopping) server.close();
    printFingerprint(server, options.secure?.advertisedPort);
    await server.finished;
    await http?.close();
  } finally {
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
  }
}
