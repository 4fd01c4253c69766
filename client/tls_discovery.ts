/**
 * Asks a server whether it offers the secure mode, on a fresh plain
 * connection that carries nothing else (codec in `protocol/discovery.ts`).
 * The connection is always closed afterwards: a plain session, if any,
 * starts on a new one, since the reference server closes the connection on
 * a code it does not know.
 *
 * | the server                          | result                            |
 * |-------------------------------------|-----------------------------------|
 * | answers 1650                        | the offer (port and certificate)  |
 * | closes or resets the connection     | no offer (the reference does so)  |
 * | answers anything else (1607, ...)   | no offer (an older server of ours)|
 * | says nothing for the discovery time | no offer                          |
 * | cannot be reached                   | `ClientError`, exit code 3        |
 * | answers a malformed 1650            | `ClientError`, exit code 4        |
 * | answers in TLS (its secure port)    | `ClientError`, exit code 2, naming the plain port |
 *
 * @module
 */

import { formatAddress } from "../common/address.ts";
import {
  decodeDiscoveryResponse,
  DISCOVERY_RESPONSE_CODE,
  encodeDiscoveryRequest,
  MAX_DISCOVERY_PAYLOAD_SIZE,
  SECURE_SERVER_NAME,
  type SecureOffer,
} from "../protocol/discovery.ts";
import { isNetworkFailure } from "../common/connection_lost.ts";
import { writeAll } from "../common/write_all.ts";
import {
  decodeResponseHeader,
  ExactReader,
  ProtocolError,
  RESPONSE_HEADER_SIZE,
} from "../protocol/mod.ts";
import { ConfigError } from "./client_error.ts";
import { connectFailure, openConnection, protocolViolation } from "./connection.ts";

/** Longest wait for the discovery answer; the reference answers by closing at once. */
export const DISCOVERY_TIMEOUT_MS = 10_000;

/** What discovery found: an offer, or why there is none. */
export type Discovery =
  | { offer: SecureOffer; reason?: undefined }
  | { offer?: undefined; reason: string };

/**
 * Sends the discovery request to `host:port` and reads the answer.
 *
 * @param timeoutMs Longest wait for the answer (capped at
 * {@linkcode DISCOVERY_TIMEOUT_MS}); 0 means that cap.
 * @param source Where host and port were written, for hints.
 * @throws {ClientError} exit code 3 if the server cannot be reached, 2 if the
 * host does not exist or the port is a server's secure (TLS) port, 4 if it
 * answers a malformed offer.
 */
export async function discoverSecureMode(
  host: string,
  port: number,
  timeoutMs: number = DISCOVERY_TIMEOUT_MS,
  source = "transfer.info line 1",
): Promise<Discovery> {
  const found = await probe(host, port, timeoutMs, source);
  if (!("tls" in found)) return found;
  throw await securePortGiven(host, port, timeoutMs, source);
}

/**
 * The port answers in TLS: it is a secure port. The default plain port is
 * the one below; when that one offers exactly this port, the hint names it.
 */
export async function securePortGiven(
  host: string,
  port: number,
  timeoutMs: number,
  source: string,
): Promise<ConfigError> {
  let plain: number | undefined;
  if (port > 1) {
    const below = await probe(host, port - 1, timeoutMs, source).catch(() => undefined);
    if (below !== undefined && "offer" in below && below.offer?.securePort === port) {
      plain = port - 1;
    }
  }
  const address = formatAddress(host, port);
  return new ConfigError({
    action: `talk to the server at ${address}`,
    reason: plain === undefined
      ? "that port speaks TLS: it is probably a server's secure port, which the client finds " +
        "by itself"
      : "that is the server's secure port",
    hint: plain === undefined
      ? `Write the server's plain port (the one its log lists first) on ${source}`
      : `Use ${plain} on ${source}: the client finds the secure port by itself`,
  });
}

/**
 * Whether `host:port` completes the start of a TLS handshake: it presents a
 * certificate (which no public authority vouches for). Asked only after a
 * plain session there failed without an answer, so a reference server never
 * sees it on a run that works.
 */
export async function speaksTls(host: string, port: number, timeoutMs: number): Promise<boolean> {
  let conn: Deno.TlsConn;
  try {
    conn = await Deno.startTls(await openConnection(host, port) as Deno.TcpConn, {
      hostname: SECURE_SERVER_NAME,
    });
  } catch {
    return false;
  }
  const wait = timeoutMs === 0 ? DISCOVERY_TIMEOUT_MS : Math.min(timeoutMs, DISCOVERY_TIMEOUT_MS);
  const timer = setTimeout(() => conn.close(), wait);
  try {
    await conn.handshake();
    return true; // a certificate a public authority vouches for: TLS all the same
  } catch (error) {
    // As in tls_connect.ts, only rustls's text says the certificate was refused.
    return /certificate|UnknownIssuer|NotValidForName|BadSignature/i.test(String(error));
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

/** A TLS record header: an alert or handshake, versions 3.1 to 3.4, read as a response header. */
function isTlsRecord(head: Uint8Array): boolean {
  return (head[0] === 0x15 || head[0] === 0x16) && head[1] === 0x03 && head[2]! <= 0x04;
}

/** One discovery exchange; `{ tls: true }` when the port answers in TLS. */
async function probe(
  host: string,
  port: number,
  timeoutMs: number,
  source: string,
): Promise<Discovery | { tls: true }> {
  const address = formatAddress(host, port);
  let conn: Deno.Conn;
  try {
    conn = await openConnection(host, port);
  } catch (error) {
    throw await connectFailure(host, port, source, error);
  }
  const wait = timeoutMs === 0 ? DISCOVERY_TIMEOUT_MS : Math.min(timeoutMs, DISCOVERY_TIMEOUT_MS);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, wait);
  try {
    await writeAll(conn, encodeDiscoveryRequest());
    const reader = new ExactReader(conn, 256);
    const head = await reader.readExactOrEnd(RESPONSE_HEADER_SIZE, RESPONSE_HEADER_SIZE);
    if (head === null) return { reason: "it closed the connection on the discovery request" };
    if (isTlsRecord(head)) return { tls: true };
    const header = decodeResponseHeader(head);
    if (header.code !== DISCOVERY_RESPONSE_CODE) {
      return { reason: `it answered the discovery request with ${header.code}` };
    }
    if (header.payloadSize > MAX_DISCOVERY_PAYLOAD_SIZE) {
      throw new ProtocolError(
        `Cannot read the discovery answer: ${header.payloadSize} bytes, more than ` +
          `${MAX_DISCOVERY_PAYLOAD_SIZE}`,
      );
    }
    const payload = await reader.readExact(header.payloadSize, MAX_DISCOVERY_PAYLOAD_SIZE);
    return { offer: decodeDiscoveryResponse(payload) };
  } catch (error) {
    if (timedOut) return { reason: `it did not answer the discovery request in ${wait / 1000} s` };
    if (error instanceof ProtocolError) {
      throw protocolViolation(
        address,
        `its discovery answer is malformed (${error.message})`,
        error,
      );
    }
    if (isNetworkFailure(error)) {
      return { reason: "it closed the connection on the discovery request" };
    }
    throw error;
  } finally {
    clearTimeout(timer);
    if (!timedOut) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
  }
}
