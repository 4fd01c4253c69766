/**
 * How to start a server ({@linkcode ServerOptions}), and the limits a
 * running server works with once every default is filled in
 * ({@linkcode serverLimits}). The deadlines' defaults live with the deadlines
 * (`session/deadlines.ts`).
 *
 * @example
 * ```ts
 * import { serverLimits } from "./server_options.ts";
 *
 * const limits = serverLimits({ dir: ".data" });
 * console.assert(limits.maxConnections === 256);
 * ```
 *
 * @module
 */

import { DEFAULT_MAX_FILE_SIZE, MAX_ENCODABLE_FILE_SIZE } from "../protocol/mod.ts";
import { type Dialect as DialectName, DIALECTS } from "../protocol/dialects/mod.ts";
import type { SecurePortOptions } from "./net/tls_listener.ts";
import {
  DEFAULT_HEADER_TIMEOUT_MS,
  DEFAULT_IDLE_TIMEOUT_MS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SHUTDOWN_GRACE_MS,
  DEFAULT_SIGN_IN_TIMEOUT_MS,
  DEFAULT_VERDICT_TIMEOUT_MS,
} from "./session/deadlines.ts";
import type { ServedDialects } from "./session/dialects/family_tables.ts";
import type { Storage } from "./storage/storage.ts";
import { BufferBudget, DEFAULT_UPLOAD_BUFFER_BUDGET } from "./upload/buffer_budget.ts";
import { DEFAULT_MAX_PER_IDENTITY, IdentityConnections } from "./session/identity_connections.ts";
import { DEFAULT_REGISTRATIONS_PER_MINUTE, RegistrationRate } from "./net/registration_rate.ts";
import { DEFAULT_FORGET_UNUSED_AFTER_MS } from "./storage/unused_names.ts";
import { DEFAULT_FLOOR_RATE } from "./net/slot_debt.ts";

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
   * Most open connections. When all are taken, a connection is closed to
   * make room (`net/connection_slots.ts`: one nobody signed in on, else the
   * one with the most unproductive time); when none may go, the new one is
   * closed at once. Default 256.
   */
  maxConnections?: number;
  /**
   * The floor rate, in bytes per second (`--min-rate`): only for choosing
   * whom to close when a cap is reached, a connection moving at least this
   * fast runs up no unproductive time (`net/timed_conn.ts`). Default
   * {@linkcode DEFAULT_FLOOR_RATE} (64 KiB/s).
   */
  minRate?: number;
  /**
   * Most open connections from one address, chosen among that address's
   * connections in the same way. Default 64; tests that open hundreds of
   * connections from 127.0.0.1 raise it.
   */
  maxConnectionsPerAddress?: number;
  /**
   * Most connections signed in at once as one client identity; a sign-in
   * past it gets 1607 and its connection closes. Default
   * {@linkcode DEFAULT_MAX_PER_IDENTITY}.
   */
  maxConnectionsPerIdentity?: number;
  /**
   * How long a client may take to answer a 1603 (900, 901 or 902), or to
   * resend after 901: then its staged upload is discarded and its connection
   * closed. Default {@linkcode DEFAULT_VERDICT_TIMEOUT_MS}.
   */
  verdictTimeoutMs?: number;
  /**
   * Most names registered (825 with a free name) from one address per
   * minute; more get 1601. Default {@linkcode DEFAULT_REGISTRATIONS_PER_MINUTE}.
   */
  registrationsPerMinute?: number;
  /**
   * How long a registered name may go unused (never signed in again, no
   * file stored) before it is freed. Default
   * {@linkcode DEFAULT_FORGET_UNUSED_AFTER_MS} (7 days).
   */
  forgetUnusedAfterMs?: number;
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
   * How long what a cut upload kept (for a resume, docs/protocol.md §13.4)
   * stays; default 24 h (`DEFAULT_PARTIAL_TTL_MS` in upload/partials.ts).
   */
  partialTtlMs?: number;
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

/** What a running server works with: the options with their defaults filled in. */
export interface ServerLimits {
  /** Largest original file size accepted. */
  maxFileSize: number;
  /** The idle deadline (`session/deadlines.ts`). */
  idleTimeoutMs: number;
  /** The request deadline. */
  requestTimeoutMs: number;
  /** The header deadline. */
  headerTimeoutMs: number;
  /** The sign-in deadline. */
  signInTimeoutMs: number;
  /** Most open connections. */
  maxConnections: number;
  /** Most open connections from one address. */
  maxConnectionsPerAddress: number;
  /** The floor rate, in bytes per second, by which eviction goes. */
  minRate: number;
  /** How long running uploads may finish on a shutdown. */
  shutdownGraceMs: number;
  /** The verdict deadline (`session/deadlines.ts`). */
  verdictTimeoutMs: number;
  /** The connections signed in per identity, with their cap. */
  identities: IdentityConnections;
  /** The cap on registrations per address. */
  registrations: RegistrationRate;
  /** How long a name may go unused before it is freed (`storage/unused_names.ts`). */
  forgetUnusedAfterMs: number;
  /** The memory every upload's batch buffers come from. */
  uploadBuffers: BufferBudget;
  /** The dialects served on the plain port. */
  dialects: ServedDialects;
}

/**
 * The limits of `options`, defaults filled in.
 *
 * @throws {RangeError} if the maximum file size is not 0 to
 * `MAX_ENCODABLE_FILE_SIZE` bytes.
 */
export function serverLimits(options: ServerOptions): ServerLimits {
  const maxFileSize = options.maxFileSize ?? DEFAULT_MAX_FILE_SIZE;
  if (
    !Number.isSafeInteger(maxFileSize) || maxFileSize < 0 || maxFileSize > MAX_ENCODABLE_FILE_SIZE
  ) {
    throw new RangeError(
      `Cannot start server: the maximum file size must be 0 to ${MAX_ENCODABLE_FILE_SIZE} bytes`,
    );
  }
  return {
    maxFileSize,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    headerTimeoutMs: options.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS,
    signInTimeoutMs: options.signInTimeoutMs ?? DEFAULT_SIGN_IN_TIMEOUT_MS,
    maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    maxConnectionsPerAddress: options.maxConnectionsPerAddress ??
      DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    minRate: options.minRate ?? DEFAULT_FLOOR_RATE,
    shutdownGraceMs: options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
    verdictTimeoutMs: options.verdictTimeoutMs ?? DEFAULT_VERDICT_TIMEOUT_MS,
    identities: new IdentityConnections(
      options.maxConnectionsPerIdentity ?? DEFAULT_MAX_PER_IDENTITY,
    ),
    registrations: new RegistrationRate(
      options.registrationsPerMinute ?? DEFAULT_REGISTRATIONS_PER_MINUTE,
    ),
    forgetUnusedAfterMs: options.forgetUnusedAfterMs ?? DEFAULT_FORGET_UNUSED_AFTER_MS,
    uploadBuffers: options.uploadBuffers ?? new BufferBudget(DEFAULT_UPLOAD_BUFFER_BUDGET),
    dialects: new Set(options.dialects ?? DIALECTS),
  };
}
