/**
 * Discovery of the secure mode: the first request our client sends on a
 * fresh plain connection to a server it has not pinned, and our server's
 * answer.
 *
 * ```text
 * request  850: header only (client id all zeros, payload size 0)
 * response 1650: mode version u8 (1) | secure port u16 | certificate size u16 | certificate DER
 * ```
 *
 * The request carries nothing about the client (no name, no id). The
 * reference server does not know code 850 and closes the connection; an
 * older server of ours answers 1607. Either way the client learns that the
 * server has no secure mode and starts a plain session on a NEW connection.
 * The certificate travels in the answer because Deno's TLS client needs the
 * certificate itself (as its only trusted root), not just its fingerprint;
 * the client checks it against a pinned fingerprint when it has one.
 *
 * @example
 * ```ts
 * import { decodeDiscoveryResponse, encodeDiscoveryResponse } from "./discovery.ts";
 * const certificate = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]);
 * const frame = encodeDiscoveryResponse({ securePort: 1257, certificate });
 * const offer = decodeDiscoveryResponse(frame.subarray(7));
 * console.assert(offer.securePort === 1257);
 * ```
 *
 * @module
 */

import { RESPONSE_HEADER_SIZE } from "./constants.ts";
import { ProtocolError } from "./errors.ts";
import { ZERO_CLIENT_ID } from "./fields.ts";
import { encodeRequestHeader, encodeResponseHeader } from "./header.ts";

/**
 * The name every server's certificate carries and every client asks for in
 * the TLS handshake. Fixed, because the certificate is pinned rather than
 * bound to a host name; under `.invalid` (RFC 2606), so no public
 * certification authority can issue a certificate for it.
 */
export const SECURE_SERVER_NAME = "file-transfer.invalid";

/** Request code of the discovery request (unknown to the reference server). */
export const DISCOVERY_REQUEST_CODE = 850;
/** Response code of the answer offering the secure mode. */
export const DISCOVERY_RESPONSE_CODE = 1650;
/** The secure mode's version, the answer's first byte. */
export const SECURE_MODE_VERSION = 1;
/** Largest certificate a discovery answer may carry. */
export const MAX_CERTIFICATE_SIZE = 4096;
/** Size of the answer's fields in front of the certificate. */
const OFFER_FIXED_SIZE = 5;
/** Largest discovery answer payload; checked before it is read. */
export const MAX_DISCOVERY_PAYLOAD_SIZE: number = OFFER_FIXED_SIZE + MAX_CERTIFICATE_SIZE;

/** What a server offers: where its TLS listener is and its certificate. */
export interface SecureOffer {
  /** The TLS port on the same host. */
  securePort: number;
  /** The server's self-signed certificate, DER. */
  certificate: Uint8Array;
}

/** The whole discovery request: a 23-byte header, no payload. */
export function encodeDiscoveryRequest(): Uint8Array {
  return encodeRequestHeader(ZERO_CLIENT_ID, DISCOVERY_REQUEST_CODE, 0);
}

/**
 * Encodes the whole discovery answer (header and payload).
 *
 * @throws {RangeError} if the port is not 1 to 65535 or the certificate is
 * empty or larger than {@linkcode MAX_CERTIFICATE_SIZE}.
 */
export function encodeDiscoveryResponse(offer: SecureOffer): Uint8Array {
  const { securePort, certificate } = offer;
  if (!Number.isInteger(securePort) || securePort < 1 || securePort > 0xffff) {
    throw new RangeError(`Cannot encode discovery answer: ${securePort} is not a port`);
  }
  if (certificate.length === 0 || certificate.length > MAX_CERTIFICATE_SIZE) {
    throw new RangeError(
      `Cannot encode discovery answer: a certificate of ${certificate.length} bytes ` +
        `(1 to ${MAX_CERTIFICATE_SIZE})`,
    );
  }
  const payloadSize = OFFER_FIXED_SIZE + certificate.length;
  const bytes = new Uint8Array(RESPONSE_HEADER_SIZE + payloadSize);
  bytes.set(encodeResponseHeader(DISCOVERY_RESPONSE_CODE, payloadSize), 0);
  const view = new DataView(bytes.buffer, RESPONSE_HEADER_SIZE);
  view.setUint8(0, SECURE_MODE_VERSION);
  view.setUint16(1, securePort, true);
  view.setUint16(3, certificate.length, true);
  bytes.set(certificate, RESPONSE_HEADER_SIZE + OFFER_FIXED_SIZE);
  return bytes;
}

/**
 * Decodes the payload of a 1650 answer. The certificate is copied.
 *
 * @throws {ProtocolError} if the version is not 1, the port is 0, or the
 * certificate size disagrees with the payload size.
 */
export function decodeDiscoveryResponse(payload: Uint8Array): SecureOffer {
  if (payload.length <= OFFER_FIXED_SIZE || payload.length > MAX_DISCOVERY_PAYLOAD_SIZE) {
    throw new ProtocolError(
      `Cannot decode discovery answer: ${payload.length} bytes (${OFFER_FIXED_SIZE + 1} to ` +
        `${MAX_DISCOVERY_PAYLOAD_SIZE})`,
    );
  }
  const view = new DataView(payload.buffer, payload.byteOffset, payload.length);
  const version = view.getUint8(0);
  if (version !== SECURE_MODE_VERSION) {
    throw new ProtocolError(
      `Cannot decode discovery answer: secure mode version ${version}, ` +
        `this client knows ${SECURE_MODE_VERSION}`,
    );
  }
  const securePort = view.getUint16(1, true);
  const size = view.getUint16(3, true);
  if (securePort === 0) throw new ProtocolError("Cannot decode discovery answer: port 0");
  if (size !== payload.length - OFFER_FIXED_SIZE) {
    throw new ProtocolError(
      `Cannot decode discovery answer: a certificate of ${size} bytes in a payload of ` +
        `${payload.length}`,
    );
  }
  return { securePort, certificate: payload.slice(OFFER_FIXED_SIZE) };
}
