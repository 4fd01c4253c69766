/**
 * The two frame headers: 23 bytes in front of every request, 7 bytes in front
 * of every response (`docs/protocol.md` §2). All integers are little-endian.
 *
 * ```text
 * request:  client id[16] | version u8 | code u16 | payload size u32
 * response:                 version u8 | code u16 | payload size u32
 * ```
 *
 * @module
 */

import {
  CLIENT_ID_SIZE,
  PROTOCOL_VERSION,
  REQUEST_HEADER_SIZE,
  RESPONSE_HEADER_SIZE,
} from "./constants.ts";
import { ProtocolError } from "./errors.ts";
import type { ClientId } from "./fields.ts";

/** A decoded request header. */
export interface RequestHeader {
  /** The sender's client id; all zeros before registration. */
  clientId: ClientId;
  /** Protocol version; the reference never checks it. */
  version: number;
  /** Request code. */
  code: number;
  /** Size of the payload that follows. */
  payloadSize: number;
}

/** A decoded response header. */
export interface ResponseHeader {
  /** Protocol version. */
  version: number;
  /** Response code. */
  code: number;
  /** Size of the payload that follows. */
  payloadSize: number;
}

function checkU16(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new RangeError(`Cannot encode ${what}: ${value} is not a u16`);
  }
}

function checkU32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    throw new RangeError(`Cannot encode ${what}: ${value} is not a u32`);
  }
}

/**
 * Encodes a request header.
 *
 * @throws {RangeError} if the client id is not 16 bytes or a number does not
 * fit its field.
 */
export function encodeRequestHeader(
  clientId: ClientId,
  code: number,
  payloadSize: number,
): Uint8Array {
  if (clientId.length !== CLIENT_ID_SIZE) {
    throw new RangeError(`Cannot encode request header: client id has ${clientId.length} bytes`);
  }
  checkU16(code, "request code");
  checkU32(payloadSize, "payload size");
  const bytes = new Uint8Array(REQUEST_HEADER_SIZE);
  bytes.set(clientId, 0);
  const view = new DataView(bytes.buffer);
  view.setUint8(16, PROTOCOL_VERSION);
  view.setUint16(17, code, true);
  view.setUint32(19, payloadSize, true);
  return bytes;
}

/**
 * Decodes a request header from the first 23 bytes of `bytes`.
 *
 * The client id is copied, so the result stays valid when `bytes` is reused.
 *
 * @throws {ProtocolError} if fewer than 23 bytes are given.
 */
export function decodeRequestHeader(bytes: Uint8Array): RequestHeader {
  if (bytes.length < REQUEST_HEADER_SIZE) {
    throw new ProtocolError(
      `Cannot decode request header: ${bytes.length} bytes instead of ${REQUEST_HEADER_SIZE}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, REQUEST_HEADER_SIZE);
  return {
    clientId: bytes.slice(0, CLIENT_ID_SIZE),
    version: view.getUint8(16),
    code: view.getUint16(17, true),
    payloadSize: view.getUint32(19, true),
  };
}

/**
 * Encodes a response header.
 *
 * @throws {RangeError} if a number does not fit its field.
 */
export function encodeResponseHeader(code: number, payloadSize: number): Uint8Array {
  checkU16(code, "response code");
  checkU32(payloadSize, "payload size");
  const bytes = new Uint8Array(RESPONSE_HEADER_SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, PROTOCOL_VERSION);
  view.setUint16(1, code, true);
  view.setUint32(3, payloadSize, true);
  return bytes;
}

/**
 * Decodes a response header from the first 7 bytes of `bytes`.
 *
 * @throws {ProtocolError} if fewer than 7 bytes are given.
 */
export function decodeResponseHeader(bytes: Uint8Array): ResponseHeader {
  if (bytes.length < RESPONSE_HEADER_SIZE) {
    throw new ProtocolError(
      `Cannot decode response header: ${bytes.length} bytes instead of ${RESPONSE_HEADER_SIZE}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, RESPONSE_HEADER_SIZE);
  return {
    version: view.getUint8(0),
    code: view.getUint16(1, true),
    payloadSize: view.getUint32(3, true),
  };
}
