/**
 * One upload request per packet: family A's per-packet dialect (828) and
 * family D (1028) (`docs/protocol.md` §15.3). Every packet is a complete
 * request; the payload is the 267-byte packet header of the reference
 * followed by a chunk, and the content is the ciphertext alone (no cksum
 * trailer):
 *
 * | offset | size | field                                                |
 * |--------|------|------------------------------------------------------|
 * | 0      | 23   | request header, payload size = 267 + L               |
 * | 23     | 4    | content size c (ciphertext only), in every packet    |
 * | 27     | 4    | original size s, in every packet                     |
 * | 31     | 2    | packet number (from 0 or from 1, modulo 65536)      |
 * | 33     | 2    | total packets N (modulo 65536), in every packet      |
 * | 35     | 255  | file name field, in every packet                     |
 * | 290    | L    | chunk                                                |
 *
 * Clients differ in chunk size K (1024, 4096, 8192 seen), numbering base,
 * a last chunk zero-padded to K, and an empty last packet when c is a
 * multiple of K. None of it is announced; {@linkcode PerPacketUpload} reads
 * any of them by one rule:
 *
 * 1. First packet: L1 = payload size - 267; base = its number (0 or 1);
 *    c = (floor(s / 16) + 1) * 16; K = L1.
 * 2. Packet count: ceil(c / K), or c / K + 1 when c is a multiple of K and
 *    the total field says so (an empty last packet); compared with the total
 *    field modulo 65536.
 * 3. Every packet: number base + i, same c, s, N and name; L ≤ K, L = K
 *    before the last; append min(L, c - received) bytes, skip the rest.
 * 4. After the last packet, received = c.
 *
 * @module
 */

import { PACKET_HEADER_SIZE } from "../constants.ts";
import { ProtocolError } from "../errors.ts";
import { bytesEqual } from "../fields.ts";
import { encodeRequestHeader } from "../header.ts";
import { cipherSizeFor, type PacketHeader, writePacketHeader } from "../packet.ts";

/** Largest chunk accepted in one packet request: bounds what one packet makes the server read. */
export const MAX_PACKET_CHUNK = 64 * 1024;

/** How many bytes of one packet's chunk are content, and how many are padding to skip. */
export interface ChunkPlan {
  /** Content bytes: the first `take` bytes of the chunk. */
  take: number;
  /** Bytes after them to read and drop (the zero padding of a fixed-size last chunk). */
  skip: number;
}

/**
 * Reads an upload sent as one request per packet, packet by packet. Pure:
 * the caller reads each request's header and packet header, asks
 * {@linkcode PerPacketUpload.accept} what to do with the chunk, and reads it.
 *
 * @example
 * ```ts
 * import { PerPacketUpload } from "./per_packet.ts";
 * import { encodeFileNameField } from "../packet.ts";
 * const fileNameField = encodeFileNameField("a.bin");
 * // 100 bytes: c = 112, in 64-byte chunks numbered from 1: 2 packets.
 * const header = { contentSize: 112, originalSize: 100, packetNumber: 1, totalPackets: 2, fileNameField };
 * const upload = new PerPacketUpload(header, 267 + 64, 1000);
 * console.log(upload.chunkSize, upload.totalPackets); // 64 2
 * console.log(upload.accept(header, 267 + 64)); // { take: 64, skip: 0 }
 * console.log(upload.accept({ ...header, packetNumber: 2 }, 267 + 64)); // { take: 48, skip: 16 }
 * console.log(upload.done); // true
 * ```
 */
export class PerPacketUpload {
  /** The first packet's header; its file name field is a copy. */
  readonly first: PacketHeader;
  /** The number of the first packet: 0 or 1. */
  readonly base: number;
  /** The chunk size K: the first packet's chunk length. */
  readonly chunkSize: number;
  /** How many packets the upload has (not modulo 65536). */
  readonly totalPackets: number;
  #packet = 0;
  #received = 0;

  /**
   * Starts an upload from its first packet's header (already read) and its
   * request's payload size, before the first chunk is read.
   *
   * @param maxFileSize The largest original size accepted.
   * @throws {ProtocolError} if the sizes, the numbering or the count do not
   * describe an upload any client of these dialects sends.
   */
  constructor(first: PacketHeader, payloadSize: number, maxFileSize: number) {
    const chunk = payloadSize - PACKET_HEADER_SIZE;
    if (first.packetNumber !== 0 && first.packetNumber !== 1) {
      throw new ProtocolError(
        `Cannot accept file: the first packet is numbered ${first.packetNumber}, not 0 or 1`,
      );
    }
    if (first.originalSize > maxFileSize) {
      throw new ProtocolError(
        `Cannot accept file: original size ${first.originalSize} is over the limit of ${maxFileSize} bytes`,
      );
    }
    const cipher = cipherSizeFor(first.originalSize);
    if (first.contentSize !== cipher) {
      throw new ProtocolError(
        `Cannot accept file: content size ${first.contentSize} does not match original size ${first.originalSize} (expected ${cipher})`,
      );
    }
    if (chunk < 1 || chunk > MAX_PACKET_CHUNK) {
      throw new ProtocolError(
        `Cannot accept file: a first chunk of ${chunk} bytes (1 to ${MAX_PACKET_CHUNK} allowed)`,
      );
    }
    this.first = { ...first, fileNameField: first.fileNameField.slice() };
    this.base = first.packetNumber;
    this.chunkSize = chunk;
    this.totalPackets = packetCountOf(cipher, chunk, first.totalPackets);
  }

  /** Content size c: the ciphertext. */
  get contentSize(): number {
    return this.first.contentSize;
  }

  /** Content bytes received so far. */
  get received(): number {
    return this.#received;
  }

  /** Whether every packet was accepted. */
  get done(): boolean {
    return this.#packet === this.totalPackets;
  }

  /**
   * Checks the next packet (the first one too: pass the header given to the
   * constructor) and says which bytes of its chunk are content.
   *
   * @throws {ProtocolError} if the packet does not continue the upload.
   */
  accept(header: PacketHeader, payloadSize: number): ChunkPlan {
    const index = this.#packet;
    if (index >= this.totalPackets) {
      throw new ProtocolError("Cannot accept packet: the upload is complete");
    }
    const problem = this.#problem(header, index, payloadSize - PACKET_HEADER_SIZE);
    if (problem !== undefined) {
      throw new ProtocolError(`Cannot accept packet ${index + 1}: ${problem}`);
    }
    const length = payloadSize - PACKET_HEADER_SIZE;
    const take = Math.min(length, this.contentSize - this.#received);
    this.#received += take;
    this.#packet++;
    if (this.done && this.#received !== this.contentSize) {
      throw new ProtocolError(
        `Cannot accept file: the packets carried ${this.#received} of ${this.contentSize} bytes`,
      );
    }
    return { take, skip: length - take };
  }

  #problem(header: PacketHeader, index: number, length: number): string | undefined {
    const first = this.first;
    const number = (this.base + index) & 0xffff;
    if (header.packetNumber !== number) {
      return `its number is ${header.packetNumber}, not ${number}`;
    }
    if (header.totalPackets !== first.totalPackets) {
      return `its total is ${header.totalPackets}, not ${first.totalPackets}`;
    }
    if (header.contentSize !== first.contentSize || header.originalSize !== first.originalSize) {
      return "its sizes differ from the first packet's";
    }
    if (!bytesEqual(header.fileNameField, first.fileNameField)) {
      return "its file name differs from the first packet's";
    }
    if (length < 0 || length > this.chunkSize) {
      return `its chunk of ${length} bytes is outside 0 to ${this.chunkSize}`;
    }
    const last = index === this.totalPackets - 1;
    if (!last && length !== this.chunkSize) {
      return `a chunk of ${length} bytes before the last, not ${this.chunkSize}`;
    }
    return undefined;
  }
}

/**
 * The packet count of `cipher` bytes in chunks of `chunk`: ceil(c / K), or
 * c / K + 1 when c is a multiple of K and the total field says so.
 *
 * @throws {ProtocolError} if the total field matches neither.
 */
function packetCountOf(cipher: number, chunk: number, totalField: number): number {
  const count = Math.ceil(cipher / chunk);
  if ((count & 0xffff) === totalField) return count;
  if (cipher % chunk === 0 && ((count + 1) & 0xffff) === totalField) return count + 1;
  throw new ProtocolError(
    `Cannot accept file: total packets ${totalField} does not fit ${cipher} bytes in chunks of ${chunk}`,
  );
}

/** How a client of these dialects cuts its upload. */
export interface PerPacketLayout {
  /** Request code: 828 (family A) or 1028 (family D). */
  code: number;
  /** Chunk size K. */
  chunkSize: number;
  /** Number of the first packet: 0 or 1. */
  base: 0 | 1;
  /** Every chunk K bytes, the last one zero-padded. */
  paddedLast?: boolean;
  /** N = floor(c / K) + 1: an empty last packet when c is a multiple of K. */
  emptyLast?: boolean;
}

/**
 * Cuts `cipher` into complete packet requests as a client with `layout`
 * does, one array per request.
 *
 * @example
 * ```ts
 * import { encodePerPacketUpload } from "./per_packet.ts";
 * import { encodeFileNameField } from "../packet.ts";
 * const frames = encodePerPacketUpload(new Uint8Array(16), new Uint8Array(1024), 1023,
 *   encodeFileNameField("a.bin"), { code: 1028, chunkSize: 1024, base: 1, emptyLast: true });
 * console.log(frames.map((f) => f.length)); // [ 1314, 290 ]
 * ```
 */
export function encodePerPacketUpload(
  clientId: Uint8Array,
  cipher: Uint8Array,
  originalSize: number,
  fileNameField: Uint8Array,
  layout: PerPacketLayout,
): Uint8Array[] {
  const k = layout.chunkSize;
  const count = layout.emptyLast ? Math.floor(cipher.length / k) + 1 : Math.ceil(cipher.length / k);
  const frames: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const chunk = cipher.subarray(i * k, Math.min(cipher.length, (i + 1) * k));
    const length = layout.paddedLast ? k : chunk.length;
    const frame = new Uint8Array(23 + PACKET_HEADER_SIZE + length);
    frame.set(encodeRequestHeader(clientId, layout.code, PACKET_HEADER_SIZE + length), 0);
    writePacketHeader(frame, 23, {
      contentSize: cipher.length,
      originalSize,
      packetNumber: layout.base + i,
      totalPackets: count,
      fileNameField,
    });
    frame.set(chunk, 23 + PACKET_HEADER_SIZE);
    frames.push(frame);
  }
  return frames;
}
