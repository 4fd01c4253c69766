/**
 * The file transfer server, composed from its rooms: it starts
 * (`start_up.ts`: data folder, port, recovery, listeners), accepts on each
 * port (`accept_loop.ts`), gives each connection a slot and serves it
 * (`connection_pool.ts`, `session/connection.ts`), and shuts down cleanly
 * (`shutdown.ts`). Its options are in `server_options.ts`.
 *
 * | port                   | dialects                                                      | besides them     |
 * |------------------------|---------------------------------------------------------------|------------------|
 * | plain, secure mode off | each connection's, from its first request (`session/dialects/`) | —              |
 * | plain, secure mode on  | each connection's, from its first request                     | 850 (discovery)  |
 * | secure (TLS)           | the reference (`session/reference_dialect.ts`)                | 851 (key proof)  |
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
import { bytesToHex } from "../protocol/mod.ts";
import { formatFingerprint } from "../protocol/fingerprint.ts";
import { formatBytes } from "../common/units.ts";
import { acceptLoop } from "./accept_loop.ts";
import { ConnectionPool, type ConnectionStates, type PortMode } from "./connection_pool.ts";
import type { Listener } from "./net/listen.ts";
import type { SecurePort } from "./net/tls_listener.ts";
import type { SessionContext } from "./session/scope.ts";
import { referenceDialect } from "./session/reference_dialect.ts";
import { dialectChoice } from "./session/dialects/choose_dialect.ts";
import type { ServedDialects } from "./session/dialects/family_tables.ts";
import { type ServerLimits, serverLimits, type ServerOptions } from "./server_options.ts";
import { shutDownConnections } from "./shutdown.ts";
import { chosenPort, openListeners, prepareDataFolder, recoverStorage } from "./start_up.ts";
import { DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES } from "./storage/registry.ts";
import { openLocalStorage, type Storage } from "./storage/storage.ts";
import { startPartialExpiry } from "./upload/partial_expiry.ts";
import { DEFAULT_PARTIAL_TTL_MS } from "./upload/partials.ts";
import { UnusedNames } from "./storage/unused_names.ts";
import { StagedSweep, stagedSweepAge } from "./storage/staged_sweep.ts";

export { DATABASE_FILE } from "./storage/storage.ts";
export {
  DEFAULT_HEADER_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SHUTDOWN_GRACE_MS,
  DEFAULT_SIGN_IN_TIMEOUT_MS,
  DEFAULT_VERDICT_TIMEOUT_MS,
} from "./session/deadlines.ts";
export { DEFAULT_MAX_PER_IDENTITY } from "./session/identity_connections.ts";
export { DEFAULT_REGISTRATIONS_PER_MINUTE } from "./net/registration_rate.ts";
export { DEFAULT_FLOOR_RATE } from "./net/slot_debt.ts";
export { DEFAULT_FORGET_UNUSED_AFTER_MS } from "./storage/unused_names.ts";
export {
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  type ServerOptions,
} from "./server_options.ts";

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
  const limits = serverLimits(options);
  const pool = new ConnectionPool(limits);
  await prepareDataFolder(options.dir);
  const port = await chosenPort(options);
  await using opened = new AsyncDisposableStack();
  const storage = opened.adopt(
    options.storage ?? await openLocalStorage(options.dir),
    (storage) => storage.close(),
  );
  await recoverStorage(storage);
  const { plain, secure } = await openListeners(options, limits, port);
  const context: SessionContext = {
    store: storage.store,
    maxFileSize: limits.maxFileSize,
    commit: {
      registry: storage.registry,
      limits: {
        maxFiles: options.maxStoredFiles ?? DEFAULT_MAX_FILES,
        maxBytes: options.maxStoredBytes ?? DEFAULT_MAX_BYTES,
      },
      instanceId: bytesToHex(crypto.getRandomValues(new Uint8Array(8))),
      heldReservations: new Set(),
    },
    uploadBuffers: limits.uploadBuffers,
    registrations: limits.registrations,
  };
  // What cut uploads kept (for a resume) expires; the sweep stops before the storage closes.
  const expiry = startPartialExpiry(storage, options.partialTtlMs ?? DEFAULT_PARTIAL_TTL_MS);
  opened.defer(() => expiry.stop());
  const swept: Storage = {
    ...storage,
    close: async () => {
      await expiry.stop();
      await storage.close();
    },
  };
  const server = new Server(plain.listener, secure, swept, limits, pool, context);
  opened.move();
  if (plain.note !== undefined) logger.warn("{note}", { note: plain.note });
  logger.info("Listening on {address}; data in {dir}; files up to {maxFileSize}", {
    address: plain.listener.description,
    dir: options.dir,
    maxFileSize: formatBytes(limits.maxFileSize),
  });
  logger.info("Dialects served on {address}: {dialects}", {
    address: plain.listener.description,
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

/** Each port's listener and what it gives its connections. */
function ports(
  listener: Listener,
  secure: SecurePort | undefined,
  context: SessionContext,
  served: ServedDialects,
): Array<[Listener, PortMode]> {
  // The plain port chooses each connection's dialect among those served
  // (`session/dialects/`) and, with the secure mode on, also answers
  // discovery; the secure port serves the reference and asks for the key proof.
  if (secure === undefined) return [[listener, { context, dialects: dialectChoice({}, served) }]];
  const { discoveryAnswer, identity } = secure;
  const secureDialect = referenceDialect({ secure: true });
  return [
    [listener, { context, dialects: dialectChoice({ discoveryAnswer }, served) }],
    [secure.listener, {
      context,
      dialects: () => secureDialect,
      secure: { fingerprint: identity.fingerprint },
    }],
  ];
}

class Server implements RunningServer {
  readonly port: number;
  readonly securePort: number | undefined;
  readonly fingerprint: Uint8Array | undefined;
  readonly finished: Promise<void>;
  readonly #listeners: Listener[];
  readonly #storage: Storage;
  readonly #limits: ServerLimits;
  readonly #pool: ConnectionPool;
  readonly #accepting: Promise<void>;
  readonly #unusedNames: UnusedNames;
  readonly #stagedSweep: StagedSweep;
  #closing: Promise<void> | undefined;
  #resolveFinished!: () => void;

  constructor(
    listener: Listener,
    secure: SecurePort | undefined,
    storage: Storage,
    limits: ServerLimits,
    pool: ConnectionPool,
    context: SessionContext,
  ) {
    this.#storage = storage;
    this.#limits = limits;
    this.#pool = pool;
    this.#unusedNames = new UnusedNames(storage.registry, limits.forgetUnusedAfterMs, logger);
    this.#unusedNames.start();
    // Staged files and reservations nobody holds go while the server runs, not only at start-up.
    const held = context.commit.heldReservations;
    this.#stagedSweep = new StagedSweep(storage, {
      instanceId: context.commit.instanceId,
      heldReservation: (token) => held?.has(token) ?? false,
      ageMs: stagedSweepAge(limits.verdictTimeoutMs),
    }, logger);
    this.#stagedSweep.start();
    this.port = listener.port;
    this.securePort = secure?.listener.port;
    this.fingerprint = secure?.identity.fingerprint;
    this.finished = new Promise((resolve) => this.#resolveFinished = resolve);
    const served = ports(listener, secure, context, limits.dialects);
    this.#listeners = served.map(([listener]) => listener);
    this.#accepting = Promise.all(served.map(([listener, mode]) =>
      acceptLoop(listener, {
        closing: () => this.#closing !== undefined,
        accepted: (conn) => pool.admit(conn, mode),
      })
    )).then(() => {});
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  connectionStates(): ConnectionStates {
    return this.#pool.states();
  }

  async #shutdown(): Promise<void> {
    for (const listener of this.#listeners) listener.close();
    await this.#accepting;
    await shutDownConnections(this.#pool, this.#limits.shutdownGraceMs);
    await this.#unusedNames.stop();
    await this.#stagedSweep.stop();
    await this.#storage.close();
    logger.info("Server stopped");
    this.#resolveFinished();
  }
}
