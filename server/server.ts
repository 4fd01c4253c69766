/**
 * The file transfer server: listens, caps and tracks connections, and shuts
 * down cleanly. Each connection is served by a `ServerConnection`
 * (`session/connection.ts`).
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
import { bytesToHex, DEFAULT_MAX_FILE_SIZE, MAX_ENCODABLE_FILE_SIZE } from "../protocol/mod.ts";
import { formatBytes, plural } from "../common/units.ts";
import type { CommitOptions } from "./upload/commit.ts";
import { RECEIVED_FILES_DIR } from "./storage/file_store_local.ts";
import { DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES } from "./storage/registry.ts";
import { openLocalStorage, recoverStorage, type Storage } from "./storage/storage.ts";
import { DataFolderError } from "./errors.ts";
import { formatAddress, plainHost } from "../common/address.ts";
import { errorMessage } from "../common/error_message.ts";
import { listen, type Listener, type Listening, type NetConn } from "./net/listen.ts";
import { readPortInfo } from "./net/port_info.ts";
import { BufferBudget, DEFAULT_UPLOAD_BUFFER_BUDGET } from "./upload/buffer_budget.ts";
import { ConnectionSlots } from "./net/connection_slots.ts";
import { ServerConnection } from "./session/connection.ts";
import type { SessionContext } from "./session/scope.ts";
import { referenceDialect, type ReferencePort } from "./session/reference_dialect.ts";
import type { DialectChoice } from "./session/request_table.ts";
import { type Dialect as DialectName, DIALECTS } from "../protocol/dialects/mod.ts";
import { dialectChoice } from "./session/dialects/choose_dialect.ts";
import type { ServedDialects } from "./session/dialects/family_tables.ts";
import {
  defaultSecurePort,
  listenSecure,
  type SecurePort,
  type SecurePortOptions,
} from "./net/tls_listener.ts";
import { formatFingerprint } from "../protocol/fingerprint.ts";
import { TimedConn } from "./net/timed_conn.ts";

import {
  DEFAULT_HEADER_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SHUTDOWN_GRACE_MS,
  DEFAULT_SIGN_IN_TIMEOUT_MS,
} from "./session/deadlines.ts";

export { DATABASE_FILE } from "./storage/storage.ts";
export {
  DEFAULT_HEADER_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SHUTDOWN_GRACE_MS,
  DEFAULT_SIGN_IN_TIMEOUT_MS,
};
/** Default for {@linkcode ServerOptions.maxConnections}. */
export const DEFAULT_MAX_CONNECTIONS = 256;
/** Default for {@linkcode ServerOptions.maxConnectionsPerAddress}: a quarter of the slots. */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 64;

/** How to start a server. */
export interface ServerOptions {
  /** Data folder: `port.info`, `received_files/`, `server.db`. Created if missing. */
  dir: string;
  /** Port to listen on; overrides `port.info`. 0 picks a free port. */
  port?: number;
  /** Address to listen on; default all interfaces, IPv6 and IPv4 (see listen.ts). */
  host?: string;
  /**
   * The secure mode's TLS port (see tls_listener.ts); default the plain port
   * plus one (any free port when the plain port is 0); `false` turns the
   * secure mode off.
   */
  securePort?: number | false;
  /**
   * What the secure port presents and advertises (see tls_listener.ts): the
   * deployment's identity, and the secure port clients reach through a load
   * balancer (`--public-secure-port`). Default: the identity in `dir`, the
   * bound port.
   */
  secure?: SecurePortOptions;
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
   * How long a request may take from its first byte to the end of its header
   * and payload (an upload's packets are under `requestTimeoutMs`). Default 5 s.
   */
  headerTimeoutMs?: number;
  /**
   * How long a connection may stay open without a client signing in on it
   * (826 or 827 accepted). Default 15 s.
   */
  signInTimeoutMs?: number;
  /**
   * Most open connections. When all are taken, the oldest connection on
   * which nobody signed in is closed to make room, else the one idle for the
   * longest; when every one is signed in and busy, the new one is closed at
   * once. Default 256.
   */
  maxConnections?: number;
  /**
   * Most open connections from one address, chosen among that address's
   * connections in the same way. Default 64; tests that open hundreds of
   * connections from 127.0.0.1 raise it.
   */
  maxConnectionsPerAddress?: number;
  /** How long running uploads may finish on {@linkcode RunningServer.close}; default 5 s. */
  shutdownGraceMs?: number;
  /**
   * The registry and file store; default SQLite `server.db` and the local
   * `received_files/` in `dir`. The server closes it when it stops.
   */
  storage?: Storage;
  /** Most files one client may store; default 10,000. */
  maxStoredFiles?: number;
  /** Most bytes one client may store; default 100 GB. */
  maxStoredBytes?: number;
  /**
   * The memory every upload's batch buffers come from (see buffer_budget.ts);
   * default a budget of {@linkcode DEFAULT_UPLOAD_BUFFER_BUDGET} bytes.
   */
  uploadBuffers?: BufferBudget;
  /**
   * The dialects served on the plain port (`docs/protocol.md` §15); default
   * all. The secure port serves the reference dialect alone.
   */
  dialects?: readonly DialectName[];
}

/** A started server. */
export interface RunningServer {
  /** The port actually bound. */
  readonly port: number;
  /** The secure port actually bound; `undefined` when the secure mode is off. */
  readonly securePort: number | undefined;
  /** SHA-256 of the server's certificate; `undefined` when the secure mode is off. */
  readonly fingerprint: Uint8Array | undefined;
  /**
   * Stops accepting, closes idle connections, lets running uploads finish
   * for up to the grace period, then closes every connection and the
   * database. Calling it again returns the same promise.
   */
  close(): Promise<void>;
  /** Settles when the server has shut down. */
  readonly finished: Promise<void>;
  /**
   * Open connections by state, for the metrics (`server/observe/metrics.ts`):
   * nobody signed in yet, signed in and idle, busy with an upload.
   */
  connectionStates(): Record<"signing_in" | "idle" | "uploading", number>;
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
  const limits = {
    maxFileSize,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    headerTimeoutMs: options.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS,
    signInTimeoutMs: options.signInTimeoutMs ?? DEFAULT_SIGN_IN_TIMEOUT_MS,
    maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    maxConnectionsPerAddress: options.maxConnectionsPerAddress ??
      DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    shutdownGraceMs: options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
    uploadBuffers: options.uploadBuffers ?? new BufferBudget(DEFAULT_UPLOAD_BUFFER_BUDGET),
    dialects: new Set(options.dialects ?? DIALECTS),
  };
  const slots = new ConnectionSlots<Slot>({
    maxConnections: limits.maxConnections,
    maxPerAddress: limits.maxConnectionsPerAddress,
  });
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

  const storage = options.storage ?? await openLocalStorage(options.dir);
  let listening: Listening;
  try {
    await recoverStorage(storage);
    listening = listen(options.host, port);
  } catch (error) {
    await storage.close();
    throw error;
  }
  const { listener } = listening;
  let secure: SecurePort | undefined;
  try {
    if (options.securePort !== false) {
      const securePort = options.securePort ?? defaultSecurePort(port);
      secure = await listenSecure(options.dir, options.host, securePort, {
        ...options.secure,
        handshakeTimeoutMs: limits.headerTimeoutMs,
        maxConnections: limits.maxConnections,
      });
    }
  } catch (error) {
    listener.close();
    await storage.close();
    throw error;
  }
  const commit: CommitOptions = {
    registry: storage.registry,
    limits: {
      maxFiles: options.maxStoredFiles ?? DEFAULT_MAX_FILES,
      maxBytes: options.maxStoredBytes ?? DEFAULT_MAX_BYTES,
    },
    instanceId: bytesToHex(crypto.getRandomValues(new Uint8Array(8))),
  };
  const server = new Server(listener, secure, storage, { commit, ...limits }, slots);
  if (listening.note !== undefined) logger.warn("{note}", { note: listening.note });
  logger.info(
    "Listening on {address}; data in {dir}; files up to {maxFileSize}",
    { address: listener.description, dir: options.dir, maxFileSize: formatBytes(maxFileSize) },
  );
  logger.info("Dialects served on {address}: {dialects}", {
    address: listener.description,
    dialects: [...limits.dialects].join(", "),
  });
  if (secure !== undefined) {
    logger.info("Secure mode (TLS) on {address}; certificate fingerprint {fingerprint}", {
      address: secure.listener.description,
      fingerprint: formatFingerprint(secure.identity.fingerprint),
    });
  }
  return server;
}

/** Creates `received_files/` (and the data folder above it, 0700 if new). */
async function prepareDataFolder(receivedDir: string): Promise<void> {
  try {
    await Deno.mkdir(receivedDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new DataFolderError(`Cannot create ${receivedDir}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

/** What a port gives its connections: their dialect and, on the secure port, the key proof. */
interface PortMode {
  dialects: DialectChoice;
  secure?: { fingerprint: Uint8Array };
}

/**
 * The mode of a port: the plain port chooses each connection's dialect among
 * those served (`session/dialects/`); the secure port serves the reference.
 */
function portMode(port: ReferencePort, served: ServedDialects, fingerprint?: Uint8Array): PortMode {
  if (fingerprint === undefined) return { dialects: dialectChoice(port, served) };
  const dialect = referenceDialect(port);
  return { dialects: () => dialect, secure: { fingerprint } };
}

interface Limits {
  commit: CommitOptions;
  maxFileSize: number;
  idleTimeoutMs: number;
  requestTimeoutMs: number;
  headerTimeoutMs: number;
  signInTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  shutdownGraceMs: number;
  uploadBuffers: BufferBudget;
  dialects: ServedDialects;
}

/** A connection in a connection slot: what {@linkcode ConnectionSlots} sees of it. */
class Slot {
  readonly connection: ServerConnection;
  readonly address: string;

  constructor(connection: ServerConnection, address: string) {
    this.connection = connection;
    this.address = address;
  }

  get signedIn(): boolean {
    return this.connection.signedIn;
  }

  get idleSince(): number | undefined {
    return this.connection.idleSince;
  }
}

class Server implements RunningServer {
  readonly port: number;
  readonly securePort: number | undefined;
  readonly fingerprint: Uint8Array | undefined;
  readonly finished: Promise<void>;
  #listeners: Listener[];
  #storage: Storage;
  #limits: Limits;
  #connections = new Map<ServerConnection, Promise<void>>();
  #slots: ConnectionSlots<Slot>;
  #nextId = 1;
  #closing: Promise<void> | undefined;
  #acceptLoop: Promise<void>;
  #resolveFinished!: () => void;

  constructor(
    listener: Listener,
    secure: SecurePort | undefined,
    storage: Storage,
    limits: Limits,
    slots: ConnectionSlots<Slot>,
  ) {
    this.#storage = storage;
    this.#limits = limits;
    this.#slots = slots;
    this.port = listener.port;
    this.securePort = secure?.listener.port;
    this.fingerprint = secure?.identity.fingerprint;
    this.finished = new Promise((resolve) => this.#resolveFinished = resolve);
    // The same requests on both ports: the plain one also answers discovery,
    // the secure one also asks for the key proof.
    const served = limits.dialects;
    const accepting = secure === undefined ? [this.#accept(listener, portMode({}, served))] : [
      this.#accept(listener, portMode({ discoveryAnswer: secure.discoveryAnswer }, served)),
      this.#accept(
        secure.listener,
        portMode({ secure: true }, served, secure.identity.fingerprint),
      ),
    ];
    this.#listeners = secure === undefined ? [listener] : [listener, secure.listener];
    this.#acceptLoop = Promise.all(accepting).then(() => {});
  }

  async #accept(listener: Listener, mode: PortMode): Promise<void> {
    while (this.#closing === undefined) {
      let conn: NetConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (this.#closing !== undefined || error instanceof Deno.errors.BadResource) return;
        if (
          error instanceof Deno.errors.NotConnected ||
          error instanceof Deno.errors.ConnectionReset ||
          error instanceof Deno.errors.ConnectionAborted
        ) {
          // The peer left before we took its connection (a load balancer's health check).
          logger.debug("A connection was gone before it was accepted: {error}", { error });
          continue;
        }
        logger.error("Cannot accept a connection: {error}", { error });
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      const remote = conn.remoteAddr as Deno.NetAddr;
      const peer = formatAddress(remote.hostname, remote.port);
      try {
        (conn as Deno.TcpConn).setNoDelay?.(true); // responses are single small writes (not on TLS)
      } catch {
        // The peer is already gone; the connection will notice.
      }
      if (this.#closing !== undefined) {
        conn.close();
        return;
      }
      const address = plainHost(remote.hostname);
      if (!this.#makeRoom(address, peer)) {
        conn.close();
        continue;
      }
      this.#open(conn, address, peer, mode);
    }
  }

  /**
   * Closes a connection if the caps call for it (see connection_slots.ts);
   * returns whether the newcomer from `address` may be served.
   */
  #makeRoom(address: string, peer: string): boolean {
    const fromAddress = this.#slots.countFrom(address);
    const room = this.#slots.makeRoom(address);
    const cap = fromAddress >= this.#limits.maxConnectionsPerAddress
      ? `${this.#limits.maxConnectionsPerAddress} connections from ${address} are open`
      : `${this.#limits.maxConnections} connections are open`;
    if (room === undefined) {
      logger.warn("Refused a connection from {peer}: {cap}, all signed in and busy", {
        peer,
        cap,
      });
      return false;
    }
    for (const slot of room) slot.connection.evict({ kind: "room", cap, peer });
    return true;
  }

  /** Serves `conn` in a new connection, under its deadlines. */
  #open(conn: NetConn, address: string, peer: string, mode: PortMode): void {
    const limits = this.#limits;
    const context: SessionContext = {
      store: this.#storage.store,
      maxFileSize: limits.maxFileSize,
      commit: limits.commit,
      uploadBuffers: limits.uploadBuffers,
    };
    const connection = new ServerConnection(
      new TimedConn(conn, {
        idleMs: limits.idleTimeoutMs,
        requestMs: limits.requestTimeoutMs,
        headerMs: limits.headerTimeoutMs,
      }),
      {
        id: this.#nextId++,
        peer,
        context,
        dialects: mode.dialects,
        ...(mode.secure === undefined ? {} : { secure: mode.secure }),
        signInTimeoutMs: limits.signInTimeoutMs,
        onEvicted: () => this.#slots.remove(slot),
      },
    );
    const slot = new Slot(connection, address);
    this.#slots.add(slot);
    this.#connections.set(
      connection,
      connection.run().finally(() => {
        this.#slots.remove(slot);
        this.#connections.delete(connection);
      }),
    );
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  connectionStates(): Record<"signing_in" | "idle" | "uploading", number> {
    const states = { signing_in: 0, idle: 0, uploading: 0 };
    for (const session of this.#connections.keys()) {
      if (session.activity !== undefined) states.uploading++;
      else if (session.signedIn) states.idle++;
      else states.signing_in++;
    }
    return states;
  }

  /** What each busy connection is doing. */
  #activities(): string[] {
    return [...this.#connections.keys()].flatMap((connection) => connection.activity ?? []);
  }

  /** Says how many uploads the shutdown waits for, for how long, and which. */
  #announceShutdown(): void {
    const busy = this.#activities();
    const idle = this.#connections.size - busy.length;
    const closing = idle === 0 ? "" : `; closing ${plural(idle, "idle connection")}`;
    if (busy.length === 0) {
      logger.info("Shutting down: no upload in progress{closing}", { closing });
      return;
    }
    logger.info("Shutting down: waiting up to {seconds} s for {uploads}{closing}: {which}", {
      seconds: this.#limits.shutdownGraceMs / 1000,
      uploads: plural(busy.length, "upload"),
      closing,
      which: busy.join("; "),
    });
  }

  async #shutdown(): Promise<void> {
    for (const listener of this.#listeners) listener.close();
    await this.#acceptLoop;
    this.#announceShutdown();
    for (const connection of this.#connections.keys()) connection.shutdown();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#limits.shutdownGraceMs);
    });
    await Promise.race([Promise.all(this.#connections.values()), grace]);
    clearTimeout(timer);
    if (this.#connections.size > 0) {
      const busy = this.#activities();
      logger.warn("Grace period over: closing {connections}{which}", {
        connections: plural(this.#connections.size, "connection"),
        which: busy.length === 0 ? "" : `: ${busy.join("; ")}`,
      });
    }
    for (const connection of this.#connections.keys()) connection.abort();
    await Promise.all(this.#connections.values());
    await this.#storage.close();
    logger.info("Server stopped");
    this.#resolveFinished();
  }
}
