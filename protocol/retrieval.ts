/**
 * Retrieval: a client lists the files the server holds for it and fetches
 * them back (`docs/protocol.md` §13.4). Served only on the secure port, after
 * the key proof, and only for the signed-in client's own files; everywhere
 * else 860 and 861 are unknown codes, as before.
 *
 * ```text
 * 860 list    most entries u16 | cursor size u16 | cursor[size]          (at most 1028 bytes)
 * 1660 page   count u16 | more u8 | count x entry                          (at most 69,123 bytes)
 *   entry     path size u16 | path | size u64 | stored at u64 (ms) | cksum u32 | has sha u8 | sha256[32]
 * 861 get     offset u64 | if sha256[32] | path size u16 | path            (at most 1066 bytes)
 * 1661 file   size u64 | start u64 | stored at u64 | cksum u32 | has sha u8 | sha256[32] | path size u16 | path
 * 1662 bytes  1 to 262,144 bytes of the file, in order, until size - start bytes came
 * 1663 none   path size u16 | path: the signed-in client holds no file of that name
 * ```
 *
 * Sizes are bounded both ways: a request is at most {@linkcode MAX_GET_PAYLOAD}
 * bytes, a page at most {@linkcode MAX_LIST_PAGE_ENTRIES} entries, a content
 * frame at most {@linkcode MAX_CHUNK_SIZE} bytes. A listing larger than one
 * page is read page by page: the next 860 carries the last path of the page
 * as its cursor (names in the byte order of their UTF-8), until `more` is 0.
 * `most entries` asks for smaller pages (0: the server's choice, at most 64).
 *
 * A continued download: 861 with the length of the local part as `offset`
 * and the SHA-256 the first answer gave as `if sha256`. The server starts at
 * `offset` only when that is the SHA-256 of the file it holds now (like
 * HTTP's `If-Range`) and `offset` is within the file; otherwise at 0.
 * `start` in 1661 says which. A file stored before SHA-256s were recorded has
 * none (`has sha` 0): it continues when `if sha256` is all zeros.
 *
 * A server that cannot read on mid-file sends 1607 in place of the next 1662;
 * the client keeps what came, and a later 861 continues it.
 *
 * @example
 * ```ts
 * import { decodeGetRequest, encodeGetRequest, NO_SHA256 } from "./retrieval.ts";
 *
 * const frame = encodeGetRequest(new Uint8Array(16), { path: "sub/cat.jpg", offset: 0, ifSha256: NO_SHA256 });
 * console.log(decodeGetRequest(frame.subarray(23)).path); // sub/cat.jpg
 * ```
 *
 * @module
 */

import { RESPONSE_HEADER_SIZE } from "./constants.ts";
import { ProtocolError } from "./errors.ts";
import type { ClientId } from "./fields.ts";
import { encodeRequestHeader, encodeResponseHeader } from "./header.ts";
import { MAX_FILE_PATH_LENGTH } from "./names.ts";
import { SHA256_SIZE } from "./sha256.ts";

/** Request codes of retrieval (secure port, after the key proof). 862 to 869 are reserved. */
export const RetrievalRequest = {
  /** One page of the client's files. */
  List: 860,
  /** One file, from an offset. */
  Get: 861,
} as const;

/** Answer codes of retrieval. 1664 to 1669 are reserved. */
export const RetrievalResponse = {
  /** A page of the listing. */
  Page: 1660,
  /** The file asked for: its size, where its content starts, its sums. */
  File: 1661,
  /** Content of the file. */
  Bytes: 1662,
  /** The client holds no file of that name. */
  NoSuchFile: 1663,
} as const;

/** Most entries in one page (1660). */
export const MAX_LIST_PAGE_ENTRIES: number = 64;
/** Largest content frame (1662) payload: 256 KiB. */
export const MAX_CHUNK_SIZE: number = 256 * 1024;
/** No SHA-256 to compare: 32 zero bytes. */
export const NO_SHA256: Uint8Array = new Uint8Array(SHA256_SIZE);

/** Size of the fixed part of an entry, the path excluded. */
const ENTRY_FIXED_SIZE = 2 + 8 + 8 + 4 + 1 + SHA256_SIZE;
/** Size of the fixed part of 1661, the path excluded. */
const FILE_FIXED_SIZE = 8 + 8 + 8 + 4 + 1 + SHA256_SIZE + 2;
/** Size of the fixed part of 861, the path excluded. */
const GET_FIXED_SIZE = 8 + SHA256_SIZE + 2;

/** Largest 860 payload. */
export const MAX_LIST_PAYLOAD: number = 4 + MAX_FILE_PATH_LENGTH;
/** Largest 861 payload. */
export const MAX_GET_PAYLOAD: number = GET_FIXED_SIZE + MAX_FILE_PATH_LENGTH;
/** Largest 1660 payload. */
export const MAX_PAGE_PAYLOAD: number = 3 +
  MAX_LIST_PAGE_ENTRIES * (ENTRY_FIXED_SIZE + MAX_FILE_PATH_LENGTH);
/** Largest 1661 payload. */
export const MAX_FILE_PAYLOAD: number = FILE_FIXED_SIZE + MAX_FILE_PATH_LENGTH;
/** Largest 1663 payload. */
export const MAX_NO_SUCH_FILE_PAYLOAD: number = 2 + MAX_FILE_PATH_LENGTH;

/** One stored file, as a listing shows it. */
export interface ListedFile {
  /** Its path below the client's folder (`sub/cat.jpg`). */
  path: string;
  /** Its size in bytes. */
  size: number;
  /** When it was stored, in milliseconds since the epoch. */
  storedAt: number;
  /** Its POSIX cksum. */
  cksum: number;
  /** Its SHA-256, or `null` for a file stored before SHA-256s were recorded. */
  sha256: Uint8Array | null;
}

/** A page of the listing (1660). */
export interface ListPage {
  /** The files, in the byte order of their paths. */
  files: ListedFile[];
  /** Whether more files follow: ask again with the last path as the cursor. */
  more: boolean;
}

/** An 861 request. */
export interface GetRequest {
  /** The file's path, as a listing shows it. */
  path: string;
  /** Where to start: the length of the part the client already holds. */
  offset: number;
  /** The SHA-256 that part belongs to; {@linkcode NO_SHA256} when none. */
  ifSha256: Uint8Array;
}

/** The 1661 answer: the file and where its content starts. */
export interface FileHeader extends ListedFile {
  /** The offset of the first content byte that follows: the request's offset, or 0. */
  start: number;
}

/** The payload limit of a retrieval answer code, or `undefined` for any other code. */
export function maxRetrievalPayloadSize(code: number): number | undefined {
  switch (code) {
    case RetrievalResponse.Page:
      return MAX_PAGE_PAYLOAD;
    case RetrievalResponse.File:
      return MAX_FILE_PAYLOAD;
    case RetrievalResponse.Bytes:
      return MAX_CHUNK_SIZE;
    case RetrievalResponse.NoSuchFile:
      return MAX_NO_SUCH_FILE_PAYLOAD;
    default:
      return undefined;
  }
}

/** The payload limit of a retrieval request code, or `undefined` for any other code. */
export function maxRetrievalRequestSize(code: number): number | undefined {
  if (code === RetrievalRequest.List) return MAX_LIST_PAYLOAD;
  if (code === RetrievalRequest.Get) return MAX_GET_PAYLOAD;
  return undefined;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Reads and writes the fields of one payload in order. */
class Fields {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  readonly #what: string;
  offset = 0;

  constructor(bytes: Uint8Array, what: string) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    this.#what = what;
  }

  #need(size: number): void {
    if (this.offset + size > this.#bytes.length) {
      throw new ProtocolError(`Cannot decode ${this.#what}: it ends inside a field`);
    }
  }

  u8(): number {
    this.#need(1);
    return this.#view.getUint8(this.offset++);
  }

  u16(): number {
    this.#need(2);
    const value = this.#view.getUint16(this.offset, true);
    this.offset += 2;
    return value;
  }

  u32(): number {
    this.#need(4);
    const value = this.#view.getUint32(this.offset, true);
    this.offset += 4;
    return value;
  }

  u64(): number {
    this.#need(8);
    const value = this.#view.getBigUint64(this.offset, true);
    this.offset += 8;
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ProtocolError(`Cannot decode ${this.#what}: ${value} is too large`);
    }
    return Number(value);
  }

  bytes(size: number): Uint8Array {
    this.#need(size);
    const value = this.#bytes.slice(this.offset, this.offset + size);
    this.offset += size;
    return value;
  }

  /** A u16 size, then that many bytes of UTF-8, at most {@linkcode MAX_FILE_PATH_LENGTH}. */
  text(field: string): string {
    const size = this.u16();
    if (size > MAX_FILE_PATH_LENGTH) {
      throw new ProtocolError(
        `Cannot decode ${this.#what}: a ${field} of ${size} bytes, more than ${MAX_FILE_PATH_LENGTH}`,
      );
    }
    try {
      return decoder.decode(this.bytes(size));
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      throw new ProtocolError(`Cannot decode ${this.#what}: the ${field} is not UTF-8`, {
        cause: error,
      });
    }
  }

  /** A presence byte and a SHA-256. */
  sha256(): Uint8Array | null {
    const has = this.u8();
    const digest = this.bytes(SHA256_SIZE);
    if (has > 1) throw new ProtocolError(`Cannot decode ${this.#what}: a SHA-256 flag of ${has}`);
    return has === 1 ? digest : null;
  }

  end(): void {
    if (this.offset !== this.#bytes.length) {
      throw new ProtocolError(
        `Cannot decode ${this.#what}: ${this.#bytes.length - this.offset} bytes after its fields`,
      );
    }
  }

  setU8(value: number): void {
    this.#view.setUint8(this.offset++, value);
  }

  setU16(value: number): void {
    this.#view.setUint16(this.offset, value, true);
    this.offset += 2;
  }

  setU32(value: number): void {
    this.#view.setUint32(this.offset, value, true);
    this.offset += 4;
  }

  setU64(value: number): void {
    this.#view.setBigUint64(this.offset, BigInt(value), true);
    this.offset += 8;
  }

  setBytes(value: Uint8Array): void {
    this.#bytes.set(value, this.offset);
    this.offset += value.length;
  }

  setText(value: Uint8Array): void {
    this.setU16(value.length);
    this.setBytes(value);
  }

  setSha256(value: Uint8Array | null): void {
    this.setU8(value === null ? 0 : 1);
    this.setBytes(value ?? NO_SHA256);
  }
}

/** The UTF-8 of a path or cursor, checked against the size limit. */
function pathBytes(path: string, what: string): Uint8Array {
  const bytes = encoder.encode(path);
  if (bytes.length > MAX_FILE_PATH_LENGTH) {
    throw new RangeError(
      `Cannot encode ${what}: a path of ${bytes.length} bytes, more than ${MAX_FILE_PATH_LENGTH}`,
    );
  }
  return bytes;
}

function checkNumber(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`Cannot encode ${what}: ${value} is not a size`);
  }
}

function checkSha256(value: Uint8Array | null, what: string): void {
  if (value !== null && value.length !== SHA256_SIZE) {
    throw new RangeError(`Cannot encode ${what}: a SHA-256 of ${value.length} bytes`);
  }
}

/** Encodes a request: header and payload. */
function request(clientId: ClientId, code: number, payload: Uint8Array): Uint8Array {
  const header = encodeRequestHeader(clientId, code, payload.length);
  const bytes = new Uint8Array(header.length + payload.length);
  bytes.set(header, 0);
  bytes.set(payload, header.length);
  return bytes;
}

/** Encodes an answer: header and payload. */
function response(code: number, payload: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(RESPONSE_HEADER_SIZE + payload.length);
  bytes.set(encodeResponseHeader(code, payload.length), 0);
  bytes.set(payload, RESPONSE_HEADER_SIZE);
  return bytes;
}

/** An 860 request. */
export interface ListRequest {
  /** The page starts after this path; empty: from the first file. */
  cursor: string;
  /** Most entries wanted; 0: the server's choice (it never sends more than 64). */
  limit: number;
}

/**
 * Encodes a whole 860.
 *
 * @throws {RangeError} if the cursor is longer than a path may be, or the
 * limit not 0 to 65535.
 */
export function encodeListRequest(clientId: ClientId, list: ListRequest): Uint8Array {
  const text = pathBytes(list.cursor, "list request");
  if (!Number.isInteger(list.limit) || list.limit < 0 || list.limit > 0xffff) {
    throw new RangeError(`Cannot encode list request: a limit of ${list.limit}`);
  }
  const payload = new Uint8Array(4 + text.length);
  const fields = new Fields(payload, "list request");
  fields.setU16(list.limit);
  fields.setText(text);
  return request(clientId, RetrievalRequest.List, payload);
}

/**
 * Decodes an 860 payload.
 *
 * @throws {ProtocolError} if it is malformed.
 */
export function decodeListRequest(payload: Uint8Array): ListRequest {
  const fields = new Fields(payload, "list request");
  const limit = fields.u16();
  const cursor = fields.text("cursor");
  fields.end();
  return { cursor, limit };
}

/**
 * Encodes a whole 1660.
 *
 * @throws {RangeError} for more than {@linkcode MAX_LIST_PAGE_ENTRIES}
 * entries, or a field out of range.
 */
export function encodeListPage(page: ListPage): Uint8Array {
  if (page.files.length > MAX_LIST_PAGE_ENTRIES) {
    throw new RangeError(
      `Cannot encode list page: ${page.files.length} entries, more than ${MAX_LIST_PAGE_ENTRIES}`,
    );
  }
  const paths = page.files.map((file) => pathBytes(file.path, "list page"));
  const size = 3 + paths.reduce((sum, path) => sum + ENTRY_FIXED_SIZE + path.length, 0);
  const payload = new Uint8Array(size);
  const fields = new Fields(payload, "list page");
  fields.setU16(page.files.length);
  fields.setU8(page.more ? 1 : 0);
  page.files.forEach((file, i) => {
    checkNumber(file.size, "list page");
    checkNumber(file.storedAt, "list page");
    checkSha256(file.sha256, "list page");
    fields.setText(paths[i]!);
    fields.setU64(file.size);
    fields.setU64(file.storedAt);
    fields.setU32(file.cksum >>> 0);
    fields.setSha256(file.sha256);
  });
  return response(RetrievalResponse.Page, payload);
}

/**
 * Decodes a 1660 payload.
 *
 * @throws {ProtocolError} if it is malformed or holds too many entries.
 */
export function decodeListPage(payload: Uint8Array): ListPage {
  const fields = new Fields(payload, "list page");
  const count = fields.u16();
  if (count > MAX_LIST_PAGE_ENTRIES) {
    throw new ProtocolError(
      `Cannot decode list page: ${count} entries, more than ${MAX_LIST_PAGE_ENTRIES}`,
    );
  }
  const more = fields.u8();
  if (more > 1) throw new ProtocolError(`Cannot decode list page: a "more" flag of ${more}`);
  const files: ListedFile[] = [];
  for (let i = 0; i < count; i++) {
    const path = fields.text("path");
    const size = fields.u64();
    const storedAt = fields.u64();
    const cksum = fields.u32();
    const sha256 = fields.sha256();
    files.push({ path, size, storedAt, cksum, sha256 });
  }
  fields.end();
  return { files, more: more === 1 };
}

/**
 * Encodes a whole 861.
 *
 * @throws {RangeError} if the path is too long, the offset not a size or the
 * SHA-256 not 32 bytes.
 */
export function encodeGetRequest(clientId: ClientId, get: GetRequest): Uint8Array {
  const path = pathBytes(get.path, "get request");
  checkNumber(get.offset, "get request");
  checkSha256(get.ifSha256, "get request");
  const payload = new Uint8Array(GET_FIXED_SIZE + path.length);
  const fields = new Fields(payload, "get request");
  fields.setU64(get.offset);
  fields.setBytes(get.ifSha256);
  fields.setText(path);
  return request(clientId, RetrievalRequest.Get, payload);
}

/**
 * Decodes an 861 payload. The path is not checked here: the server looks it
 * up among the client's files only.
 *
 * @throws {ProtocolError} if it is malformed.
 */
export function decodeGetRequest(payload: Uint8Array): GetRequest {
  const fields = new Fields(payload, "get request");
  const offset = fields.u64();
  const ifSha256 = fields.bytes(SHA256_SIZE);
  const path = fields.text("path");
  fields.end();
  return { path, offset, ifSha256 };
}

/**
 * Encodes a whole 1661.
 *
 * @throws {RangeError} if a field is out of range.
 */
export function encodeFileHeader(file: FileHeader): Uint8Array {
  const path = pathBytes(file.path, "file header");
  for (const value of [file.size, file.start, file.storedAt]) checkNumber(value, "file header");
  if (file.start > file.size) {
    throw new RangeError(`Cannot encode file header: start ${file.start} past size ${file.size}`);
  }
  checkSha256(file.sha256, "file header");
  const payload = new Uint8Array(FILE_FIXED_SIZE + path.length);
  const fields = new Fields(payload, "file header");
  fields.setU64(file.size);
  fields.setU64(file.start);
  fields.setU64(file.storedAt);
  fields.setU32(file.cksum >>> 0);
  fields.setSha256(file.sha256);
  fields.setText(path);
  return response(RetrievalResponse.File, payload);
}

/**
 * Decodes a 1661 payload.
 *
 * @throws {ProtocolError} if it is malformed or starts past the file's end.
 */
export function decodeFileHeader(payload: Uint8Array): FileHeader {
  const fields = new Fields(payload, "file header");
  const size = fields.u64();
  const start = fields.u64();
  const storedAt = fields.u64();
  const cksum = fields.u32();
  const sha256 = fields.sha256();
  const path = fields.text("path");
  fields.end();
  if (start > size) {
    throw new ProtocolError(`Cannot decode file header: start ${start} past size ${size}`);
  }
  return { path, size, start, storedAt, cksum, sha256 };
}

/**
 * The 7-byte header of a 1662 carrying `size` content bytes, to write in
 * front of them (the content itself is not copied).
 *
 * @throws {RangeError} if `size` is 0 or more than {@linkcode MAX_CHUNK_SIZE}.
 */
export function encodeBytesHeader(size: number): Uint8Array {
  if (!Number.isInteger(size) || size < 1 || size > MAX_CHUNK_SIZE) {
    throw new RangeError(`Cannot encode content frame: ${size} bytes (1 to ${MAX_CHUNK_SIZE})`);
  }
  return encodeResponseHeader(RetrievalResponse.Bytes, size);
}

/** Encodes a whole 1663 naming the path asked for. */
export function encodeNoSuchFile(path: string): Uint8Array {
  // A path too long to be stored is echoed cut: it names nothing anyway.
  let text = encoder.encode(path);
  if (text.length > MAX_FILE_PATH_LENGTH) text = text.subarray(0, MAX_FILE_PATH_LENGTH);
  const payload = new Uint8Array(2 + text.length);
  new Fields(payload, "no such file").setText(text);
  return response(RetrievalResponse.NoSuchFile, payload);
}

/**
 * Decodes a 1663 payload: the path asked for (a cut one may end inside a
 * character: decoded leniently).
 *
 * @throws {ProtocolError} if it is malformed.
 */
export function decodeNoSuchFile(payload: Uint8Array): { path: string } {
  const fields = new Fields(payload, "no such file");
  const size = fields.u16();
  const path = new TextDecoder().decode(fields.bytes(size));
  fields.end();
  return { path };
}
