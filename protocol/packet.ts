/**
 * The 828 upload framing (`docs/protocol.md` §5). After a request header
 * with code 828 and payload size 0, the client sends N packets with no
 * further headers:
 *
 * ```text
 * content size u32 | original size u32 | packet number u16 | total packets u16 | file name[255] | chunk
 * ```
 *
 * - content = AES-256-CBC(file) || cksum(file) as u32 LE;
 * - N = ceil(content size / 7925); packet numbers run 0 .. N-1;
 * - chunk i = content[i*7925 .. (i+1)*7925): every chunk is 7925 bytes but the last;
 * - packet number and total packets are u16 fields that wrap (modulo 65536),
 *   so files above the reference's ~519 MB ceiling still fit.
 *
 * @module
 */

import {
  AES_BLOCK_SIZE,
  CKSUM_TRAILER_SIZE,
  FILE_NAME_FIELD_SIZE,
  MAX_ENCODABLE_FILE_SIZE,
  PACKET_CHUNK_SIZE,
  PACKET_HEADER_SIZE,
} from "./constants.ts";
import { ProtocolError } from "./errors.ts";
import { fileNameProblem } from "./names.ts";

/** The fields of one packet header, as on the wire. */
export interface PacketHeader {
  /** Size of the whole content: ciphertext plus the 4-byte cksum trailer. */
  contentSize: number;
  /** Size of the plaintext file. */
  originalSize: number;
  /** Packet number modulo 65536. */
  packetNumber: number;
  /** Packet count modulo 65536. */
  totalPackets: number;
  /** The raw 255-byte file name field. */
  fileNameField: Uint8Array;
}

/** Size of the ciphertext of a file of `originalSize` bytes (PKCS#7 always pads). */
export function cipherSizeFor(originalSize: number): number {
  return (Math.floor(originalSize / AES_BLOCK_SIZE) + 1) * AES_BLOCK_SIZE;
}

/**
 * Size of the 828 content for a file of `originalSize` bytes.
 *
 * @throws {RangeError} if the content would not fit the u32 field.
 */
export function contentSizeFor(originalSize: number): number {
  if (!Number.isSafeInteger(originalSize) || originalSize < 0) {
    throw new RangeError(`Cannot size content: ${originalSize} is not a file size`);
  }
  if (originalSize > MAX_ENCODABLE_FILE_SIZE) {
    throw new RangeError(
      `Cannot size content: ${originalSize} bytes is more than the protocol can carry (${MAX_ENCODABLE_FILE_SIZE})`,
    );
  }
  return cipherSizeFor(originalSize) + CKSUM_TRAILER_SIZE;
}

/** Number of packets for `contentSize` bytes of content. */
export function packetCount(contentSize: number): number {
  return Math.ceil(contentSize / PACKET_CHUNK_SIZE);
}

/** Length of chunk `index` (0-based) of `contentSize` bytes of content. */
export function chunkLength(contentSize: number, index: number): number {
  return Math.min(PACKET_CHUNK_SIZE, contentSize - index * PACKET_CHUNK_SIZE);
}

/**
 * Encodes a file's base name into the 255-byte packet field (UTF-8, NUL-padded).
 *
 * @throws {TypeError} if the name is not a safe single path component
 * (see {@linkcode fileNameProblem}).
 */
export function encodeFileNameField(name: string): Uint8Array {
  const problem = fileNameProblem(name);
  if (problem !== undefined) throw new TypeError(`Cannot encode file name: ${problem}`);
  const field = new Uint8Array(FILE_NAME_FIELD_SIZE);
  new TextEncoder().encodeInto(name, field);
  return field;
}

/**
 * Decodes the 255-byte packet file name field into a safe file name.
 *
 * @throws {ProtocolError} if the field is not NUL-padded UTF-8 or the name is
 * not a safe single path component.
 */
export function decodeFileNameField(field: Uint8Array): string {
  if (field.length !== FILE_NAME_FIELD_SIZE) {
    throw new ProtocolError(`Cannot decode file name: the field has ${field.length} bytes`);
  }
  const nul = field.indexOf(0);
  const end = nul === -1 ? field.length : nul;
  for (let i = end; i < field.length; i++) {
    if (field[i] !== 0) {
      throw new ProtocolError("Cannot decode file name: it contains a NUL byte");
    }
  }
  let name: string;
  try {
    // ignoreBOM keeps a leading U+FEFF, so that fileNameProblem refuses it.
    name = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
      field.subarray(0, end),
    );
  } catch (error) {
    throw new ProtocolError("Cannot decode file name: it is not valid UTF-8", { cause: error });
  }
  const problem = fileNameProblem(name);
  if (problem !== undefined) throw new ProtocolError(`Cannot decode file name: ${problem}`);
  return name;
}

/**
 * Writes a packet header into `target` at `offset` (267 bytes), with the
 * packet number and total count reduced modulo 65536.
 *
 * @throws {RangeError} if the field does not fit or a size is not a u32.
 */
export function writePacketHeader(target: Uint8Array, offset: number, header: PacketHeader): void {
  if (header.fileNameField.length !== FILE_NAME_FIELD_SIZE) {
    throw new RangeError(
      `Cannot encode packet header: file name field has ${header.fileNameField.length} bytes`,
    );
  }
  for (
    const [what, value] of [["content", header.contentSize], [
      "original",
      header.originalSize,
    ]] as const
  ) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
      throw new RangeError(`Cannot encode packet header: ${what} size ${value} is not a u32`);
    }
  }
  const view = new DataView(target.buffer, target.byteOffset + offset, PACKET_HEADER_SIZE);
  view.setUint32(0, header.contentSize, true);
  view.setUint32(4, header.originalSize, true);
  view.setUint16(8, header.packetNumber & 0xffff, true);
  view.setUint16(10, header.totalPackets & 0xffff, true);
  target.set(header.fileNameField, offset + 12);
}

/** Encodes a packet header into a new 267-byte array. */
export function encodePacketHeader(header: PacketHeader): Uint8Array {
  const bytes = new Uint8Array(PACKET_HEADER_SIZE);
  writePacketHeader(bytes, 0, header);
  return bytes;
}

/**
 * Decodes a packet header from the first 267 bytes of `bytes`. The file name
 * field is a view into `bytes`, not a copy.
 *
 * @throws {ProtocolError} if fewer than 267 bytes are given.
 */
export function decodePacketHeader(bytes: Uint8Array): PacketHeader {
  if (bytes.length < PACKET_HEADER_SIZE) {
    throw new ProtocolError(
      `Cannot decode packet header: ${bytes.length} bytes instead of ${PACKET_HEADER_SIZE}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, PACKET_HEADER_SIZE);
  return {
    contentSize: view.getUint32(0, true),
    originalSize: view.getUint32(4, true),
    packetNumber: view.getUint16(8, true),
    totalPackets: view.getUint16(10, true),
    fileNameField: bytes.subarray(12, PACKET_HEADER_SIZE),
  };
}

/**
 * Checks that the sizes in a first packet header describe a real upload:
 * the content size is what AES-CBC with PKCS#7 and the trailer give for the
 * original size, and the original size is within `maxFileSize`.
 *
 * @throws {ProtocolError} naming the first inconsistency.
 */
export function checkUploadSizes(header: PacketHeader, maxFileSize: number): void {
  if (header.originalSize > maxFileSize) {
    throw new ProtocolError(
      `Cannot accept upload: original size ${header.originalSize} is over the limit of ${maxFileSize} bytes`,
    );
  }
  const expected = contentSizeFor(header.originalSize);
  if (header.contentSize !== expected) {
    throw new ProtocolError(
      `Cannot accept upload: content size ${header.contentSize} does not match original size ${header.originalSize} (expected ${expected})`,
    );
  }
  const total = packetCount(header.contentSize) & 0xffff;
  if (header.totalPackets !== total) {
    throw new ProtocolError(
      `Cannot accept upload: total packets ${header.totalPackets} does not match content size ${header.contentSize} (expected ${total})`,
    );
  }
}
