/**
 * The file transfer server: listens, caps and tracks connections, and shuts
 * down cleanly. Each connection is served by a {@linkcode ClientSession}.
 *
 * @example
 * ```ts
 * const server = await startServer({ dir: ".data", port: 0 });
 * console.log(server.port);
 * await server.close();
 * ```
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { join } from "node:path";
import { DEFAULT_MAX_FILE_SIZE, MAX_ENCODABLE_FILE_SIZE } from "../protocol/mod.ts";
import { formatBytes } from "../protocol/units.ts";
import { ServerDatabase } from "./database.ts";
import { RECEIVED_FILES_DIR, removeStaleTemporaryFiles } from "./file_store.ts";
import { DataFolderError } from "./errors.ts";
import { formatAddress, listen, type Listener, type Listening } from "./listen.ts";
import { readPortInfo } from "./port_info.ts";
import { ClientSession } from "./session.ts";
import { TimedConn } from "./timed_conn.ts";

/** Name of the SQLite database file in the data folder. */
export const DATABASE_FILE = "server.db";
/** Default for {@linkcode ServerOptions.idleTimeoutMs}. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** Default for {@linkcode ServerOptions.requestTimeoutMs}. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** Default for {@linkcode ServerOptions.maxConnections}. */
export const DEFAULT_MAX_CONNECTIONS = 256;
/** Default for {@linkcode ServerOptions.shutdownGraceMs}. */
export const DEFAULT_SHUTDOWN_GRACE_MS = 5_000;

/** How to start a server. */
export interface ServerOptions {
  /** Data folder: `port.info`, `received_files/`, `server.db`. Created if missing. */
  dir: string;
  /** Port to listen on; overrides `port.info`. 0 picks a free port. */
  port?: number;
  /** Address to listen on; default all interfaces, IPv6 and IPv4 (see listen.ts). */
  host?: string;
  /** Largest original file size accepted; default 800 MB. */
  maxFileSize?: number;
  /** How long one read or write may wait; default 30 s. */
  idleTimeoutMs?: number;
  /**
   * How long a request may take from its first byte to its last; during an
   * upload, each MiB received restarts it (a minimum rate). Default 60 s.
   */
  requestTimeoutMs?: number;
  /**
   * Most open connections. When all are taken, the connection idle for the
   * longest is closed to make room; when none is idle, the new one is closed
   * at once. Default 256.
   */
  maxConnections?: number;
  /** How long running uploads may finish on {@linkcode RunningServer.close}; default 5 s. */
  shutdownGraceMs?: number;
}

/** A started server. */
export interface RunningServer {
  /** The port actually bound. */
  readonly port: number;
  /**
   * Stops accepting, closes idle connections, lets running uploads finish
   * for up to the grace period, then closes every connection and the
   * database. Calling it again returns the same promise.
   */
  close(): Promise<void>;
  /** Settles when the server has shut down. */
  readonly finished: Promise<void>;
}

const logger = getLogger(["server"]);

/**
 * Starts a server: prepares the data folder (removing temporary files a crash
 * left), opens the database and listens.
 *
 * @throws {PortInUseError} when the port is taken, {@linkcode ListenError}
 * when the address cannot be listened on (both from `./errors.ts`), or
 * `Cannot open database ...`, or another start-up failure.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const maxFileSize = options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  if (
    !Number.isSafeInteger(maxFileSize) || maxFileSize < 0 || maxFileSize > MAX_ENCODABLE_FILE_SIZE
  ) {
    throw new RangeError(
      `Cannot start server: the maximum file size must be 0 to ${MAX_ENCODABLE_FILE_SIZE} bytes`,
    );
  }
  const receivedDir = join(options.dir, RECEIVED_FILES_DIR);
  await prepareDataFolder(receivedDir);

  let port = options.port;
  if (port === undefined) {
    const info = await readPortInfo(options.dir);
    if (info.problem !== undefined) {
      logger.warn("{problem}; using port {port}", { problem: info.problem, port: info.port });
    }
    port = info.port;
  }

  for (const path of await removeStaleTemporaryFiles(receivedDir)) {
    logger.warn("Removed a temporary file left by an interrupted upload: {path}", { path });
  }

  const db = ServerDatabase.open(join(options.dir, DATABASE_FILE));
  let listening: Listening;
  try {
    listening = listen(options.host, port);
  } catch (error) {
    db.close();
    throw error;
  }
  const { listener } = listening;
  const server = new Server(listener, db, {
    receivedDir,
    maxFileSize,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    shutdownGraceMs: options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
  });
  if (listening.note !== undefined) logger.warn("{note}", { note: listening.note });
  logger.info(
    "Listening on {address}; data in {dir}; files up to {maxFileSize}",
    { address: listener.description, dir: options.dir, maxFileSize: formatBytes(maxFileSize) },
  );
  return server;
}

/** Creates `received_files/` (and the data folder above it). */
async function prepareDataFolder(receivedDir: string): Promise<void> {
  try {
    await Deno.mkdir(receivedDir, { recursive: true });
  } catch (error) {
    throw new DataFolderError(`Cannot create ${receivedDir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

interface Limits {
  receivedDir: string;
  maxFileSize: number;
  idleTimeoutMs: number;
  requestTimeoutMs: number;
  maxConnections: number;
  shutdownGraceMs: number;
}

class Server implements RunningServer {
  readonly port: number;
  readonly finished: Promise<void>;
  #listener: Listener;
  #db: ServerDatabase;
  #limits: Limits;
  #sessions = new Map<ClientSession, Promise<void>>();
  #nextId = 1;
  #closing: Promise<void> | undefined;
  #acceptLoop: Promise<void>;
  #resolveFinished!: () => void;

  constructor(listener: Listener, db: ServerDatabase, limits: Limits) {
    this.#listener = listener;
    this.#db = db;
    this.#limits = limits;
    this.port = listener.port;
    this.finished = new Promise((resolve) => this.#resolveFinished = resolve);
    this.#acceptLoop = this.#accept();
  }

  async #accept(): Promise<void> {
    while (this.#closing === undefined) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closing !== undefined || error instanceof Deno.errors.BadResource) return;
        logger.error("Cannot accept a connection: {error}", { error });
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      const peer = formatAddress(conn.remoteAddr.hostname, conn.remoteAddr.port);
      try {
        conn.setNoDelay(true); // responses are single small writes
      } catch {
        // The peer is already gone; the session will notice.
      }
      if (this.#closing !== undefined) {
        conn.close();
        return;
      }
      if (this.#sessions.size >= this.#limits.maxConnections && !this.#evictIdle(peer)) {
        logger.warn("Refused a connection from {peer}: {max} connections are open already", {
          peer,
          max: this.#limits.maxConnections,
        });
        conn.close();
        continue;
      }
      const session = new ClientSession(
        new TimedConn(conn, this.#limits.idleTimeoutMs, this.#limits.requestTimeoutMs),
        peer,
        this.#nextId++,
        {
          db: this.#db,
          receivedDir: this.#limits.receivedDir,
          maxFileSize: this.#limits.maxFileSize,
        },
      );
      this.#sessions.set(
        session,
        session.run().finally(() => this.#sessions.delete(session)),
      );
    }
  }

  /** Closes the connection idle for the longest, if any; returns whether it did. */
  #evictIdle(peer: string): boolean {
    let oldest: ClientSession | undefined;
    let oldestSince = Infinity;
    for (const session of this.#sessions.keys()) {
      const since = session.idleSince;
      if (since !== undefined && since < oldestSince) {
        oldest = session;
        oldestSince = since;
      }
    }
    if (oldest === undefined) return false;
    logger.warn("{max} connections are open: closing the longest idle one for {peer}", {
      max: this.#limits.maxConnections,
      peer,
    });
    oldest.evict();
    return true;
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    logger.info("Shutting down: {count} connections open", { count: this.#sessions.size });
    this.#listener.close();
    await this.#acceptLoop;
    for (const session of this.#sessions.keys()) session.shutdown();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#limits.shutdownGraceMs);
    });
    await Promise.race([Promise.all(this.#sessions.values()), grace]);
    clearTimeout(timer);
    if (this.#sessions.size > 0) {
      logger.warn("Grace period over: closing {count} busy connections", {
        count: this.#sessions.size,
      });
    }
    for (const session of this.#sessions.keys()) session.abort();
    await Promise.all(this.#sessions.values());
    this.#db.close();
    logger.info("Server stopped");
    this.#resolveFinished();
  }
}
