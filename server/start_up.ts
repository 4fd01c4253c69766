/**
 * What a server does before it serves: the data folder, the port, the
 * storage's recovery from a crash, and the listeners.
 *
 * | step | what                                                                  | fails with                 |
 * |------|-----------------------------------------------------------------------|----------------------------|
 * | 1    | create `received_files/` (and the data folder, 0700 if new)          | `DataFolderError`          |
 * | 2    | the port: `--port`, else `port.info` (a warning and 1256 when invalid) | —                          |
 * | 3    | settle the commits a crash interrupted, remove abandoned staged files | the storage's errors       |
 * | 4    | listen on the plain port, then on the secure port (unless off)        | `PortInUseError`, `ListenError`, `StartupError` |
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { join } from "node:path";
import { errorMessage } from "../common/error_message.ts";
import { DataFolderError } from "./errors.ts";
import { listen, type Listening } from "./net/listen.ts";
import { readPortInfo } from "./net/port_info.ts";
import { defaultSecurePort, listenSecure, type SecurePort } from "./net/tls_listener.ts";
import { RECEIVED_FILES_DIR } from "./storage/file_store_local.ts";
import type { Storage } from "./storage/storage.ts";
import { recoverCommits } from "./upload/commit.ts";
import type { ServerLimits, ServerOptions } from "./server_options.ts";

const logger = getLogger(["server"]);

/** Creates `received_files/` in `dir` (and `dir`, 0700 if new). */
export async function prepareDataFolder(dir: string): Promise<void> {
  const receivedDir = join(dir, RECEIVED_FILES_DIR);
  try {
    await Deno.mkdir(receivedDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new DataFolderError(`Cannot create ${receivedDir}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

/** The port to listen on: `options.port`, else the one in `port.info` (see port_info.ts). */
export async function chosenPort(options: ServerOptions): Promise<number> {
  if (options.port !== undefined) return options.port;
  const info = await readPortInfo(options.dir);
  if (info.problem !== undefined) {
    logger.warn("{problem}; using port {port}", { problem: info.problem, port: info.port });
  }
  return info.port;
}

/**
 * Settles the commits a crash interrupted and removes abandoned staged
 * files, saying so in the log.
 */
export async function recoverStorage(storage: Storage): Promise<void> {
  const recovery = await recoverCommits(storage.registry, storage.store);
  for (const location of recovery.committed) {
    logger.warn("Finished the commit of {location}, interrupted by a crash", { location });
  }
  for (const location of recovery.discarded) {
    logger.warn("Dropped the commit of {location}, interrupted by a crash", { location });
  }
  for (const path of recovery.removed) {
    logger.warn("Removed a temporary file left by an interrupted upload: {path}", { path });
  }
}

/** The plain port's listener and, unless the secure mode is off, the secure port's. */
export interface Listeners {
  /** The plain port. */
  plain: Listening;
  /** The secure port; `undefined` when the secure mode is off. */
  secure: SecurePort | undefined;
}

/**
 * Listens on the plain port `port`, then on the secure port; the plain one
 * is closed again if the secure one fails.
 */
export async function openListeners(
  options: ServerOptions,
  limits: ServerLimits,
  port: number,
): Promise<Listeners> {
  const plain = listen(options.host, port);
  if (options.securePort === false) return { plain, secure: undefined };
  try {
    const securePort = options.securePort ?? defaultSecurePort(port);
    return {
      plain,
      secure: await listenSecure(options.dir, options.host, securePort, {
        ...options.secure,
        handshakeTimeoutMs: limits.headerTimeoutMs,
        maxConnections: limits.maxConnections,
      }),
    };
  } catch (error) {
    plain.listener.close();
    throw error;
  }
}
