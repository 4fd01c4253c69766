/**
 * Opens a TLS connection to a server's secure port, trusting exactly one
 * certificate: the pinned one. The handshake asks for the fixed name
 * {@linkcode SECURE_SERVER_NAME}, which the server's self-signed certificate
 * carries, and gives Deno the pinned certificate as a trusted root. Deno adds
 * it to its built-in roots, but no public authority can issue a certificate
 * for a name under `.invalid`, so only the pinned certificate passes.
 *
 * The handshake is finished here (with a deadline), so every failure is
 * known before the session starts and classified:
 *
 * | kind          | what happened                                                 |
 * |---------------|---------------------------------------------------------------|
 * | `unreachable` | the secure port refused, timed out, or is not reachable       |
 * | `certificate` | the server's certificate is not the pinned one                |
 * | `handshake`   | something answered but did not complete a TLS handshake       |
 *
 * Deno does not let a program choose the TLS versions; both our programs use
 * Deno's rustls, which negotiates TLS 1.3 with each other (rustls also
 * implements TLS 1.3's protection against being downgraded to 1.2).
 *
 * @module
 */

import { formatAddress } from "../common/address.ts";
import { errorMessage } from "../common/error_message.ts";
import { SECURE_SERVER_NAME } from "../protocol/discovery.ts";
import { encodePem } from "../protocol/pem.ts";
import { isNetworkFailure } from "../common/connection_lost.ts";
import { connectFailure, openConnection } from "./connection.ts";

/** Why the secure connection could not be made. */
export class SecureConnectError extends Error {
  /** What failed; see the module documentation. */
  readonly kind: "unreachable" | "certificate" | "handshake";
  /** Why, without the action: `Connection refused (os error 111)`. */
  readonly reason: string;

  /**
   * Creates the error.
   *
   * @param kind What failed.
   * @param action What could not be done: `connect to 127.0.0.1:1257`.
   * @param reason Why.
   * @param options Pass `cause` to keep the origin.
   */
  constructor(
    kind: "unreachable" | "certificate" | "handshake",
    action: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`Cannot ${action}: ${reason}`, options);
    this.name = "SecureConnectError";
    this.kind = kind;
    this.reason = reason;
  }
}

/**
 * Connects to `host:securePort` and completes a TLS handshake that only
 * `certificate` (DER) can pass.
 *
 * @param timeoutMs Longest wait for the handshake; 0 for no limit.
 * @param source Where the host was written, for hints.
 * @throws {SecureConnectError} when the connection or the handshake fails;
 * a `ConfigError` when the host name does not exist.
 */
export async function connectSecure(
  host: string,
  securePort: number,
  certificate: Uint8Array,
  timeoutMs: number,
  source = "transfer.info line 1",
): Promise<Deno.TlsConn> {
  const address = formatAddress(host, securePort);
  let tcp: Deno.TcpConn;
  try {
    tcp = await openConnection(host, securePort) as Deno.TcpConn;
  } catch (error) {
    if (!isNetworkFailure(error)) throw await connectFailure(host, securePort, source, error);
    throw new SecureConnectError("unreachable", `connect to ${address}`, errorMessage(error), {
      cause: error,
    });
  }
  let conn: Deno.TlsConn;
  try {
    conn = await Deno.startTls(tcp, {
      hostname: SECURE_SERVER_NAME,
      caCerts: [encodePem("CERTIFICATE", certificate)],
    });
  } catch (error) {
    // The peer may reset the connection before TLS even starts (NotConnected).
    try {
      tcp.close();
    } catch {
      // Already closed.
    }
    throw classifyHandshakeError(address, error, false, timeoutMs);
  }
  let timedOut = false;
  const timer = timeoutMs === 0 ? undefined : setTimeout(() => {
    timedOut = true;
    conn.close();
  }, timeoutMs);
  try {
    await conn.handshake();
    return conn;
  } catch (error) {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
    throw classifyHandshakeError(address, error, timedOut, timeoutMs);
  } finally {
    clearTimeout(timer);
  }
}

function classifyHandshakeError(
  address: string,
  error: unknown,
  timedOut: boolean,
  timeoutMs: number,
): SecureConnectError {
  const message = error instanceof Error ? error.message : String(error);
  if (timedOut) {
    return new SecureConnectError(
      "unreachable",
      `finish the TLS handshake with ${address}`,
      `no answer in ${timeoutMs / 1000} s`,
      { cause: error },
    );
  }
  // Deno raises every failed handshake as the same class (InvalidData), and
  // only rustls's text says whether the certificate was refused: here, and
  // only here, the message is the signal. It is quoted, never rewritten.
  if (/certificate|UnknownIssuer|NotValidForName|BadSignature/i.test(message)) {
    return new SecureConnectError(
      "certificate",
      `authenticate ${address}`,
      `its certificate is not the pinned one (${message})`,
      { cause: error },
    );
  }
  return new SecureConnectError(
    "handshake",
    `finish the TLS handshake with ${address}`,
    message,
    { cause: error },
  );
}
