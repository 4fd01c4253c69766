/**
 * How the client reaches a server: over TLS with a pinned certificate, or in
 * the plain protocol v3, decided as ssh decides with `known_hosts` (trust on
 * first use), and never downgraded.
 *
 * | `known_servers` / options          | what happens                                                  |
 * |------------------------------------|---------------------------------------------------------------|
 * | a line with a certificate          | TLS to its secure port with that certificate; any failure stops the client (no plain fallback) |
 * | a line without one, or `--pin`     | discovery; the offered certificate must have that fingerprint; then TLS, and the line is (re)written |
 * | nothing                            | discovery; an offer is pinned after a successful TLS handshake (first contact) |
 * | nothing, and no offer              | plain protocol v3 on a new connection, unless `--secure`      |
 *
 * `--pin` wins over a line with another fingerprint: that is how a user
 * re-pins a server whose operator gave them its new fingerprint.
 *
 * Every refusal is one message saying what changed, how to check the
 * fingerprint with the server's operator, and how to re-pin.
 *
 * @module
 */

import { formatAddress } from "../common/address.ts";
import { bytesEqual } from "../protocol/mod.ts";
import { certificateFingerprint, formatFingerprint } from "../protocol/fingerprint.ts";
import { type ClientError, NetworkError, RejectedError } from "./client_error.ts";
import { openConnection, ServerConnection } from "./connection.ts";
import { findKnownServer, type KnownServer, loadKnownServers, pinServer } from "./known_servers.ts";
import { connectSecure, SecureConnectError } from "./tls_connect.ts";
import { discoverSecureMode } from "./tls_discovery.ts";

/** How to reach one server. */
export interface TransportOptions {
  /** The client's folder (`known_servers`). */
  folder: string;
  /** The server's host, from `transfer.info`. */
  host: string;
  /** The server's plain port, from `transfer.info`. */
  port: number;
  /** Longest wait for a connection step; 0 for no limit. */
  timeoutMs: number;
  /** Where host and port were written, for hints (`transfer.info line 1`). */
  source?: string;
  /** `--secure`: refuse the plain protocol even on first contact. */
  requireSecure?: boolean;
  /** `--pin`: the fingerprint the server must have. */
  pin?: Uint8Array;
  /** One-line information for the user (pinning), hidden by `--quiet`. */
  onInfo?: (info: string) => void;
  /** A server was pinned: one line with its address and fingerprint, for `transfer.log`. */
  onPinned?: (line: string) => void;
}

/** The way to the server: a finished TLS connection, or plain v3 for the caller to open. */
export type Transport =
  | { secure: false; reason: string }
  | {
    secure: true;
    /** The TLS connection, handshake done. */
    conn: Deno.TlsConn;
    /** The fingerprint of the server's certificate (the key proof is bound to it). */
    fingerprint: Uint8Array;
  };

const HOW_TO_CHECK = "Ask the server's operator for its fingerprint (`server fingerprint` on " +
  "the server) and compare";

/**
 * Decides how to reach the server and, for TLS, connects.
 *
 * @throws {ClientError} exit code 3 when a pinned server's secure port does
 * not answer (the caller may retry), 4 when the server's certificate is not
 * the pinned one or the secure mode is required but not offered, 2 when
 * `known_servers` cannot be read or written.
 */
export async function openTransport(options: TransportOptions): Promise<Transport> {
  const { path, entries } = await loadKnownServers(options.folder);
  const known = findKnownServer(entries, options.host, options.port);
  const pin = options.pin;
  if (
    known?.certificate !== undefined && (pin === undefined || bytesEqual(pin, known.fingerprint))
  ) {
    const conn = await connect(options, known, known.certificate, `${path} line ${known.line}`);
    return { secure: true, conn, fingerprint: known.fingerprint };
  }
  const expected = pin ?? known?.fingerprint;
  const pinnedIn = pin !== undefined ? "--pin" : `${path} line ${known?.line}`;
  const address = formatAddress(options.host, options.port);
  const discovery = await discoverSecureMode(
    options.host,
    options.port,
    options.timeoutMs,
    options.source,
  );
  if (discovery.offer === undefined) {
    if (expected !== undefined) {
      throw new RejectedError({
        action: `use the secure mode with ${address}`,
        reason: `${discovery.reason}, but its fingerprint is pinned (${pinnedIn}), so the ` +
          "client will not talk to it unprotected",
        hint: `Check the address; ${HOW_TO_CHECK}, and ask whether the secure mode was turned off`,
      });
    }
    if (options.requireSecure) {
      throw new RejectedError({
        action: `use the secure mode with ${address}`,
        reason: `${discovery.reason} (a server without the secure mode, or something in the ` +
          "way), and --secure refuses the plain protocol v3",
        hint: "Ask the server's operator to turn the secure mode on, or run without --secure",
      });
    }
    return { secure: false, reason: discovery.reason };
  }
  const { securePort, certificate } = discovery.offer;
  const fingerprint = await certificateFingerprint(certificate);
  if (expected !== undefined && !bytesEqual(expected, fingerprint)) {
    throw certificateChanged(address, pinnedIn, expected, fingerprint);
  }
  const entry: KnownServer = {
    host: options.host,
    port: options.port,
    securePort,
    fingerprint,
    certificate,
  };
  const conn = await connect(options, entry, certificate, undefined);
  try {
    await pinServer(options.folder, entry);
  } catch (error) {
    conn.close();
    throw error;
  }
  options.onPinned?.(
    `pinned ${address} (secure port ${securePort}) in ${path}: ${formatFingerprint(fingerprint)}` +
      (expected !== undefined ? " (the fingerprint given)" : " (first contact)"),
  );
  options.onInfo?.(
    expected !== undefined
      ? `pinned ${address} in ${path}: its certificate has the fingerprint you gave`
      : `first contact with ${address}: pinned its certificate ${
        formatFingerprint(fingerprint)
      } in ${path} (trust on first use: compare it with \`server fingerprint\` on the server)`,
  );
  return { secure: true, conn, fingerprint };
}

/** Connects over TLS; `pinnedIn` says where the pin comes from, `undefined` on first contact. */
async function connect(
  options: TransportOptions,
  entry: KnownServer,
  certificate: Uint8Array,
  pinnedIn: string | undefined,
): Promise<Deno.TlsConn> {
  const address = formatAddress(options.host, options.port);
  try {
    return await connectSecure(
      options.host,
      entry.securePort,
      certificate,
      options.timeoutMs,
      options.source,
    );
  } catch (error) {
    if (!(error instanceof SecureConnectError)) throw error;
    const reason = error.reason;
    if (error.kind === "certificate") {
      if (pinnedIn === undefined) {
        throw new RejectedError({
          action: `trust ${address}`,
          reason: `its secure port ${entry.securePort} presents another certificate than the ` +
            `one it offered (${reason})`,
          hint: `Something may be intercepting the connection; ${HOW_TO_CHECK}`,
        }, { cause: error });
      }
      const offered = await offeredFingerprint(options);
      if (offered !== undefined && bytesEqual(offered, entry.fingerprint)) {
        throw new RejectedError({
          action: `trust ${address}`,
          reason: `its secure port ${entry.securePort} presents another certificate than the ` +
            `pinned ${formatFingerprint(entry.fingerprint)} (${pinnedIn}), which its plain ` +
            `port still offers (${reason})`,
          hint: `Something is probably intercepting the connection; ${HOW_TO_CHECK}`,
        }, { cause: error });
      }
      throw certificateChanged(address, pinnedIn, entry.fingerprint, offered, error);
    }
    if (pinnedIn === undefined) {
      throw new NetworkError({
        action: `reach the secure port ${entry.securePort} of ${address}`,
        reason,
        hint: "The server offers the secure mode there; check that its port is open",
      }, { cause: error });
    }
    throw await pinnedUnreachable(options, entry, pinnedIn, error);
  }
}

/**
 * A pinned server's secure port does not answer: is the server stopped
 * (neither port answers), or is only its secure port out of reach? Either
 * way the client never falls back to the plain protocol.
 */
async function pinnedUnreachable(
  options: TransportOptions,
  entry: KnownServer,
  pinnedIn: string,
  error: SecureConnectError,
): Promise<NetworkError> {
  const address = formatAddress(options.host, options.port);
  if (!(await answers(options.host, options.port))) {
    return new NetworkError({
      action: `reach ${address}`,
      reason: `the server is not running (neither its port ${options.port} nor its secure ` +
        `port ${entry.securePort} answers: ${error.reason})`,
      hint: "Start the server, or check the address on " +
        (options.source ?? "transfer.info line 1") + ", then try again",
    }, { cause: error });
  }
  return new NetworkError({
    action: `reach the secure port ${entry.securePort} of ${address}`,
    reason: `it does not answer (${error.reason}), while the server's plain port ` +
      `${options.port} does`,
    hint: `The server is pinned (${pinnedIn}), so the client talks to it only over its ` +
      "secure port. Ask the server's operator to check that port (a firewall, --secure-port, " +
      "--no-secure)",
  }, { cause: error });
}

/** Whether something accepts a TCP connection at `host:port`. */
async function answers(host: string, port: number): Promise<boolean> {
  try {
    (await openConnection(host, port)).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * The fingerprint the server offers now on its plain port (discovery), to
 * show beside the pinned one; `undefined` when it offers none.
 */
async function offeredFingerprint(options: TransportOptions): Promise<Uint8Array | undefined> {
  try {
    const discovery = await discoverSecureMode(
      options.host,
      options.port,
      options.timeoutMs,
      options.source,
    );
    if (discovery.offer === undefined) return undefined;
    return await certificateFingerprint(discovery.offer.certificate);
  } catch {
    return undefined;
  }
}

function certificateChanged(
  address: string,
  pinnedIn: string,
  pinned: Uint8Array,
  presented: Uint8Array | undefined,
  cause?: unknown,
): ClientError {
  const now = presented === undefined
    ? "another certificate"
    : `a certificate with the fingerprint ${formatFingerprint(presented)}`;
  return new RejectedError({
    action: `trust ${address}`,
    reason: `it presents ${now}, not the pinned ${formatFingerprint(pinned)} (${pinnedIn})`,
    hint: "Either someone is intercepting the connection, or the server has a new identity. " +
      `${HOW_TO_CHECK}; only if the new one is theirs, re-pin with ` +
      "--pin <fingerprint> (or delete the line in known_servers)",
  }, cause === undefined ? undefined : { cause });
}

/**
 * Opens the connection a session runs on: over TLS when
 * {@linkcode openTransport} says so, else plain v3 on a new connection.
 *
 * @returns The connection, and `secure` (for the key proof) when it is TLS.
 * @throws {ClientError} as {@linkcode openTransport} and `ServerConnection.open` do.
 */
export async function connectToServer(
  options: TransportOptions,
): Promise<{ connection: ServerConnection; secure?: { fingerprint: Uint8Array } }> {
  const transport = await openTransport(options);
  if (!transport.secure) {
    return {
      connection: await ServerConnection.open(
        options.host,
        options.port,
        options.timeoutMs,
        options.source === undefined ? {} : { source: options.source },
      ),
    };
  }
  return {
    connection: ServerConnection.over(
      transport.conn,
      formatAddress(options.host, options.port),
      options.timeoutMs,
    ),
    secure: { fingerprint: transport.fingerprint },
  };
}
