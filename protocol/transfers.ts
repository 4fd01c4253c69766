/**
 * The secure mode's transfer requests (docs/protocol.md §13.4): before an
 * upload the client asks what the server holds of a path (852, answered
 * 1652), and sends a file under a path, from the start or from an offset the
 * two sides agreed on (853, answered 1653, then the packets of §5). Only on
 * the secure port, after the key proof: the reference dialect never sees
 * them.
 *
 * ```text
 * 852  file status  size u64 | path length u16 | path (UTF-8, 1 to 1024 bytes)
 * 1652 status       flags u8 | stored size u64 | stored SHA-256[32] | max file size u64
 *                   | resumable length u64 | SHA-256 of those bytes[32]
 * 853  send at      size u64 | offset u64 | SHA-256 of the first offset bytes[32]
 *                   | path length u16 | path
 * 1653 go ahead     offset u64; then the packets of §5 follow at once, carrying the
 *                   bytes from the offset to the end: original size = size - offset,
 *                   the trailer is the cksum of the WHOLE file, the file name field
 *                   is the path's last component
 * ```
 *
 * All integers little-endian. Sizes travel as u64 but are at most
 * `Number.MAX_SAFE_INTEGER`; a larger one does not decode. Hashes are raw
 * 32-byte SHA-256 digests; a field with nothing to hash is 32 zero bytes.
 *
 * @example
 * ```ts
 * import {
 *   decodeFileStatusRequest,
 *   encodeFileStatusRequest,
 *   FILE_STATUS_REQUEST_CODE,
 * } from "./transfers.ts";
 * import { REQUEST_HEADER_SIZE } from "./constants.ts";
 *
 * const frame = encodeFileStatusRequest(new Uint8Array(16), { size: 5, path: "photos/cat.jpg" });
 * const request = decodeFileStatusRequest(frame.subarray(REQUEST_HEADER_SIZE));
 * console.assert(request.path === "photos/cat.jpg" && FILE_STATUS_REQUEST_CODE === 852);
 * ```
 *
 * @module
 */

import { RESPONSE_HEADER_SIZE } from "./constants.ts";
import { REQUEST_HEADER_SIZE } from "./constants.ts";
import { ProtocolError } from "./errors.ts";
import type { ClientId } from "./fields.ts";
import { encodeRequestHeader, encodeResponseHeader } from "./header.ts";

/** 852: what does the server hold of this path? */
export const FILE_STATUS_REQUEST_CODE = 852;
/** 853: send a file under a path, from an offset. */
export const SEND_AT_REQUEST_CODE = 853;
/** 1652: the answer to 852. */
export const FILE_STATUS_RESPONSE_CODE = 1652;
/** 1653: the answer to 853: the packets may follow. */
export const SEND_AT_RESPONSE_CODE = 1653;

/** Size of a SHA-256 digest. */
export const DIGEST_SIZE = 32;
/** Longest path a request carries, in UTF-8 bytes (the stored path limit). */
export const MAX_TRANSFER_PATH_LENGTH = 1024;

const STATUS_FIXED = 8 + 2;
const SEND_AT_FIXED = 8 + 8 + DIGEST_SIZE + 2;
/** Size of the 1652 payload. */
export const FILE_STATUS_RESPONSE_SIZE: number = 1 + 8 + DIGEST_SIZE + 8 + 8 + DIGEST_SIZE;
/** Size of the 1653 payload. */
export const SEND_AT_RESPONSE_SIZE = 8;
/** Largest 852 payload; checked against the header before a byte is read. */
export const MAX_FILE_STATUS_REQUEST_SIZE: number = STATUS_FIXED + MAX_TRANSFER_PATH_LENGTH;
/** Largest 853 payload; checked against the header before a byte is read. */
export const MAX_SEND_AT_REQUEST_SIZE: number = SEND_AT_FIXED + MAX_TRANSFER_PATH_LENGTH;

const FLAG_STORED = 1;
const FLAG_DIGEST_KNOWN = 2;

/** 852: the path and the size of the file the client is about to send. */
export interface FileStatusRequest {
  /** The file's size in bytes. */
  size: number;
  /** The path it is to be stored under (`photos/cat.jpg`, or a name). */
  path: string;
}

/** 1652: what the server holds of a path. */
export interface FileStatus {
  /** The file stored under the path, if any; `sha256` is `undefined` when not recorded. */
  stored?: { size: number; sha256: Uint8Array | undefined };
  /** The largest file the server accepts. */
  maxFileSize: number;
  /**
   * The bytes the server kept of a cut upload of this path and size, ready to
   * continue (`length` 0: none), and their SHA-256.
   */
  resumable: { length: number; sha256: Uint8Array };
}

/** 853: send `size` bytes under `path`, continuing at `offset`. */
export interface SendAtRequest {
  /** The whole file's size. */
  size: number;
  /** Where the packets start: 0, or the agreed resumable length. */
  offset: number;
  /** SHA-256 of the file's first `offset` bytes (zeros when 0). */
  prefixSha256: Uint8Array;
  /** The path to store the file under. */
  path: string;
}

function encodePath(path: string, what: string): Uint8Array {
  const bytes = new TextEncoder().encode(path);
  if (bytes.length === 0 || bytes.length > MAX_TRANSFER_PATH_LENGTH) {
    throw new RangeError(
      `Cannot encode ${what}: a path of ${bytes.length} bytes (1 to ${MAX_TRANSFER_PATH_LENGTH})`,
    );
  }
  return bytes;
}

function checkSize(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`Cannot encode ${what}: ${value} is not a size`);
  }
}

function checkDigest(digest: Uint8Array, what: string): void {
  if (digest.length !== DIGEST_SIZE) {
    throw new RangeError(`Cannot encode ${what}: a digest of ${digest.length} bytes`);
  }
}

function readSize(view: DataView, offset: number, what: string): number {
  const value = view.getBigUint64(offset, true);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ProtocolError(`Cannot decode ${what}: ${value} is too large`);
  }
  return Number(value);
}

function decodePath(bytes: Uint8Array, length: number, what: string): string {
  if (length === 0 || length > MAX_TRANSFER_PATH_LENGTH || length !== bytes.length) {
    throw new ProtocolError(
      `Cannot decode ${what}: a path of ${length} bytes in ${bytes.length} (1 to ` +
        `${MAX_TRANSFER_PATH_LENGTH})`,
    );
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    throw new ProtocolError(`Cannot decode ${what}: the path is not UTF-8`, { cause: error });
  }
}

function viewOf(payload: Uint8Array): DataView {
  return new DataView(payload.buffer, payload.byteOffset, payload.length);
}

/** Encodes a whole 852 request (header and payload). */
export function encodeFileStatusRequest(
  clientId: ClientId,
  request: FileStatusRequest,
): Uint8Array {
  checkSize(request.size, "file status request");
  const path = encodePath(request.path, "file status request");
  const bytes = new Uint8Array(REQUEST_HEADER_SIZE + STATUS_FIXED + path.length);
  bytes.set(encodeRequestHeader(clientId, FILE_STATUS_REQUEST_CODE, STATUS_FIXED + path.length));
  const view = new DataView(bytes.buffer, REQUEST_HEADER_SIZE);
  view.setBigUint64(0, BigInt(request.size), true);
  view.setUint16(8, path.length, true);
  bytes.set(path, REQUEST_HEADER_SIZE + STATUS_FIXED);
  return bytes;
}

/**
 * Decodes an 852 payload.
 *
 * @throws {ProtocolError} if a size does not fit or the path length
 * disagrees with the payload, or the path is not UTF-8.
 */
export function decodeFileStatusRequest(payload: Uint8Array): FileStatusRequest {
  if (payload.length < STATUS_FIXED + 1 || payload.length > MAX_FILE_STATUS_REQUEST_SIZE) {
    throw new ProtocolError(`Cannot decode file status request: ${payload.length} bytes`);
  }
  const view = viewOf(payload);
  const size = readSize(view, 0, "file status request");
  const path = decodePath(
    payload.subarray(STATUS_FIXED),
    view.getUint16(8, true),
    "file status request",
  );
  return { size, path };
}

/** Encodes a whole 1652 answer. */
export function encodeFileStatusResponse(status: FileStatus): Uint8Array {
  const what = "file status answer";
  checkSize(status.maxFileSize, what);
  checkSize(status.resumable.length, what);
  checkDigest(status.resumable.sha256, what);
  const bytes = new Uint8Array(RESPONSE_HEADER_SIZE + FILE_STATUS_RESPONSE_SIZE);
  bytes.set(encodeResponseHeader(FILE_STATUS_RESPONSE_CODE, FILE_STATUS_RESPONSE_SIZE));
  const view = new DataView(bytes.buffer, RESPONSE_HEADER_SIZE);
  const stored = status.stored;
  if (stored !== undefined) {
    checkSize(stored.size, what);
    view.setUint8(0, FLAG_STORED | (stored.sha256 === undefined ? 0 : FLAG_DIGEST_KNOWN));
    view.setBigUint64(1, BigInt(stored.size), true);
    if (stored.sha256 !== undefined) {
      checkDigest(stored.sha256, what);
      bytes.set(stored.sha256, RESPONSE_HEADER_SIZE + 9);
    }
  }
  view.setBigUint64(41, BigInt(status.maxFileSize), true);
  view.setBigUint64(49, BigInt(status.resumable.length), true);
  bytes.set(status.resumable.sha256, RESPONSE_HEADER_SIZE + 57);
  return bytes;
}

/**
 * Decodes a 1652 payload.
 *
 * @throws {ProtocolError} for a payload of another size, unknown flags or a
 * size that does not fit.
 */
export function decodeFileStatusResponse(payload: Uint8Array): FileStatus {
  const what = "file status answer";
  if (payload.length !== FILE_STATUS_RESPONSE_SIZE) {
    throw new ProtocolError(
      `Cannot decode ${what}: ${payload.length} bytes instead of ${FILE_STATUS_RESPONSE_SIZE}`,
    );
  }
  const view = viewOf(payload);
  const flags = view.getUint8(0);
  if ((flags & ~(FLAG_STORED | FLAG_DIGEST_KNOWN)) !== 0 || flags === FLAG_DIGEST_KNOWN) {
    throw new ProtocolError(`Cannot decode ${what}: flags ${flags}`);
  }
  const status: FileStatus = {
    maxFileSize: readSize(view, 41, what),
    resumable: { length: readSize(view, 49, what), sha256: payload.slice(57, 57 + DIGEST_SIZE) },
  };
  if ((flags & FLAG_STORED) !== 0) {
    status.stored = {
      size: readSize(view, 1, what),
      sha256: (flags & FLAG_DIGEST_KNOWN) === 0 ? undefined : payload.slice(9, 9 + DIGEST_SIZE),
    };
  }
  return status;
}

/** Encodes a whole 853 request (header and payload); the packets follow after 1653. */
export function encodeSendAtRequest(clientId: ClientId, request: SendAtRequest): Uint8Array {
  const what = "send request";
  checkSize(request.size, what);
  checkSize(request.offset, what);
  checkDigest(request.prefixSha256, what);
  if (request.offset > request.size) {
    throw new RangeError(`Cannot encode ${what}: offset ${request.offset} past ${request.size}`);
  }
  const path = encodePath(request.path, what);
  const bytes = new Uint8Array(REQUEST_HEADER_SIZE + SEND_AT_FIXED + path.length);
  bytes.set(encodeRequestHeader(clientId, SEND_AT_REQUEST_CODE, SEND_AT_FIXED + path.length));
  const view = new DataView(bytes.buffer, REQUEST_HEADER_SIZE);
  view.setBigUint64(0, BigInt(request.size), true);
  view.setBigUint64(8, BigInt(request.offset), true);
  bytes.set(request.prefixSha256, REQUEST_HEADER_SIZE + 16);
  view.setUint16(16 + DIGEST_SIZE, path.length, true);
  bytes.set(path, REQUEST_HEADER_SIZE + SEND_AT_FIXED);
  return bytes;
}

/**
 * Decodes an 853 payload.
 *
 * @throws {ProtocolError} if a size does not fit, the offset is past the
 * size, the path length disagrees with the payload, or the path is not UTF-8.
 */
export function decodeSendAtRequest(payload: Uint8Array): SendAtRequest {
  const what = "send request";
  if (payload.length < SEND_AT_FIXED + 1 || payload.length > MAX_SEND_AT_REQUEST_SIZE) {
    throw new ProtocolError(`Cannot decode ${what}: ${payload.length} bytes`);
  }
  const view = viewOf(payload);
  const size = readSize(view, 0, what);
  const offset = readSize(view, 8, what);
  if (offset > size) {
    throw new ProtocolError(`Cannot decode ${what}: offset ${offset} past ${size}`);
  }
  const path = decodePath(
    payload.subarray(SEND_AT_FIXED),
    view.getUint16(16 + DIGEST_SIZE, true),
    what,
  );
  return { size, offset, prefixSha256: payload.slice(16, 16 + DIGEST_SIZE), path };
}

/** Encodes a whole 1653 answer: the offset the packets start at. */
export function encodeSendAtResponse(offset: number): Uint8Array {
  checkSize(offset, "send answer");
  const bytes = new Uint8Array(RESPONSE_HEADER_SIZE + SEND_AT_RESPONSE_SIZE);
  bytes.set(encodeResponseHeader(SEND_AT_RESPONSE_CODE, SEND_AT_RESPONSE_SIZE));
  new DataView(bytes.buffer, RESPONSE_HEADER_SIZE).setBigUint64(0, BigInt(offset), true);
  return bytes;
}

/**
 * Decodes a 1653 payload.
 *
 * @throws {ProtocolError} for a payload of another size or an offset that does not fit.
 */
export function decodeSendAtResponse(payload: Uint8Array): number {
  if (payload.length !== SEND_AT_RESPONSE_SIZE) {
    throw new ProtocolError(`Cannot decode send answer: ${payload.length} bytes instead of 8`);
  }
  return readSize(viewOf(payload), 0, "send answer");
}

/** The largest payload of the answers of this module, by code; `undefined` for other codes. */
export function maxTransferResponseSize(code: number): number | undefined {
  if (code === FILE_STATUS_RESPONSE_CODE) return FILE_STATUS_RESPONSE_SIZE;
  if (code === SEND_AT_RESPONSE_CODE) return SEND_AT_RESPONSE_SIZE;
  return undefined;
}
