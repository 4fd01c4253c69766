/**
 * The 828 packet decoder: packets in (read in raw batches straight from the
 * connection), content out. Pure and synchronous: the caller reads the bytes,
 * the decoder says how many to read and splits them (`docs/protocol.md` §5).
 *
 * 1. The caller reads the first 267-byte header, decodes it
 *    (`decodePacketHeader`) and constructs the decoder with it: the sizes
 *    and the packet number are checked before anything else is read.
 * 2. {@linkcode PacketDecoder.nextBatchSize} says how many bytes the next N
 *    packets occupy (the first batch starts after the first header, already
 *    read); the caller reads exactly that many into one buffer.
 * 3. {@linkcode PacketDecoder.decodeBatch} checks each header in the batch
 *    against the first (number `i` modulo 65536, same total, sizes and file
 *    name), gathers the chunks into a content buffer and returns the
 *    ciphertext part; the 4 trailer bytes are kept aside (copied as
 *    slices, never byte by byte) and read with {@linkcode PacketDecoder.trailer}
 *    once every packet is in.
 *
 * @module
 */

import {
  CKSUM_TRAILER_SIZE,
  MAX_ENCODABLE_FILE_SIZE,
  PACKET_CHUNK_SIZE,
  PACKET_HEADER_SIZE,
} from "./constants.ts";
import { ProtocolError } from "./errors.ts";
import { bytesEqual } from "./fields.ts";
import {
  checkUploadSizes,
  chunkLength,
  decodePacketHeader,
  packetCount,
  type PacketHeader,
} from "./packet.ts";

/**
 * Splits an upload's packets into content, batch by batch.
 *
 * @example
 * ```ts
 * import { PacketDecoder } from "./packet_decoder.ts";
 * import { PacketEncoder } from "./packet_encoder.ts";
 * import { decodePacketHeader, encodeFileNameField } from "./packet.ts";
 *
 * const upload = { contentSize: 20, originalSize: 15, fileNameField: encodeFileNameField("a.txt") };
 * const wire = new Uint8Array(287);
 * new PacketEncoder(upload).encodeInto(new Uint8Array(20).fill(7), wire);
 *
 * const decoder = new PacketDecoder(decodePacketHeader(wire));
 * const raw = wire.subarray(267, 267 + decoder.nextBatchSize(128));
 * const cipher = decoder.decodeBatch(raw, new Uint8Array(decoder.contentBufferSize(128)));
 * console.log(cipher.length, decoder.done, decoder.trailer); // 16 true 117901063
 * ```
 */
export class PacketDecoder {
  /** The first packet's header; its file name field is a copy. */
  readonly first: PacketHeader;
  /** How many packets the upload has (the true count, not modulo 65536). */
  readonly totalPackets: number;
  /** Size of the ciphertext: the content without its trailer. */
  readonly cipherSize: number;
  #packet = 0;
  #contentOffset = 0;
  #trailer = new Uint8Array(CKSUM_TRAILER_SIZE);

  /**
   * Starts an upload from its first header (already read from the wire).
   *
   * @param first The decoded first packet header.
   * @param maxFileSize The largest original size accepted.
   * @throws {ProtocolError} if the first packet's number is not 0, or its
   * sizes do not describe a real upload within `maxFileSize`.
   */
  constructor(first: PacketHeader, maxFileSize: number = MAX_ENCODABLE_FILE_SIZE) {
    if (first.packetNumber !== 0) {
      throw new ProtocolError(`Cannot accept packet 0: its number is ${first.packetNumber}`);
    }
    checkUploadSizes(first, maxFileSize);
    this.first = { ...first, fileNameField: first.fileNameField.slice() };
    this.totalPackets = packetCount(first.contentSize);
    this.cipherSize = first.contentSize - CKSUM_TRAILER_SIZE;
  }

  /** Whether every packet has been decoded. */
  get done(): boolean {
    return this.#packet === this.totalPackets;
  }

  /** Content bytes decoded so far (ciphertext and trailer). */
  get contentDecoded(): number {
    return this.#contentOffset;
  }

  /** Size of a raw buffer that holds any batch of up to `maxPackets` packets. */
  rawBufferSize(maxPackets: number): number {
    return Math.min(this.totalPackets, maxPackets) * (PACKET_HEADER_SIZE + PACKET_CHUNK_SIZE);
  }

  /** Size of a content buffer that holds any batch of up to `maxPackets` packets. */
  contentBufferSize(maxPackets: number): number {
    return Math.min(this.totalPackets, maxPackets) * PACKET_CHUNK_SIZE;
  }

  /**
   * Bytes on the wire of the next `maxPackets` packets (fewer at the end),
   * without the first header, which was read before; 0 when done.
   */
  nextBatchSize(maxPackets: number): number {
    const end = Math.min(this.totalPackets, this.#packet + maxPackets);
    let size = 0;
    for (let i = this.#packet; i < end; i++) {
      size += (i === 0 ? 0 : PACKET_HEADER_SIZE) + chunkLength(this.first.contentSize, i);
    }
    return size;
  }

  /**
   * Decodes one raw batch, as many whole packets as `raw` holds (a size from
   * {@linkcode PacketDecoder.nextBatchSize}). Chunks are copied into
   * `content`; the trailer bytes among them are kept aside.
   *
   * @param raw The batch as read from the wire.
   * @param content Where the chunks go; at least the batch's content size.
   * @param onHeader Called with each raw 267-byte header in the batch (not
   * the first packet's, given to the constructor), after it was checked.
   * @returns The ciphertext of this batch: a view into `content`, empty when
   * the batch holds only trailer bytes.
   * @throws {ProtocolError} if a header does not match the first one.
   * @throws {RangeError} if `raw` does not end at a packet boundary or
   * `content` is too small.
   */
  decodeBatch(
    raw: Uint8Array,
    content: Uint8Array,
    onHeader?: (index: number, header: Uint8Array) => void,
  ): Uint8Array {
    const batchStart = this.#contentOffset;
    let r = 0;
    let c = 0;
    while (r < raw.length) {
      const index = this.#packet;
      if (index >= this.totalPackets) {
        throw new RangeError("Cannot decode packets: the batch goes past the last packet");
      }
      if (index !== 0) {
        const headerBytes = raw.subarray(r, r + PACKET_HEADER_SIZE);
        this.#check(decodePacketHeader(headerBytes), index);
        onHeader?.(index, headerBytes);
        r += PACKET_HEADER_SIZE;
      }
      const length = chunkLength(this.first.contentSize, index);
      if (r + length > raw.length || c + length > content.length) {
        throw new RangeError(`Cannot decode packet ${index}: the batch or buffer ends inside it`);
      }
      content.set(raw.subarray(r, r + length), c);
      r += length;
      c += length;
      this.#packet++;
    }
    this.#contentOffset += c;
    const cipherEnd = Math.max(0, Math.min(this.cipherSize - batchStart, c));
    if (cipherEnd < c) {
      const trailerStart = batchStart + cipherEnd - this.cipherSize;
      this.#trailer.set(content.subarray(cipherEnd, c), trailerStart);
    }
    return content.subarray(0, cipherEnd);
  }

  /**
   * The client's cksum, from the 4 bytes after the ciphertext.
   *
   * @throws {RangeError} before every packet has been decoded.
   */
  get trailer(): number {
    if (!this.done) throw new RangeError("Cannot read the trailer: packets are still to come");
    return new DataView(this.#trailer.buffer).getUint32(0, true);
  }

  #check(header: PacketHeader, index: number): void {
    const first = this.first;
    const problem = header.packetNumber !== (index & 0xffff)
      ? `its number is ${header.packetNumber}, expected ${index & 0xffff}`
      : header.totalPackets !== first.totalPackets
      ? `its total is ${header.totalPackets}, expected ${first.totalPackets}`
      : header.contentSize !== first.contentSize
      ? `its content size is ${header.contentSize}, expected ${first.contentSize}`
      : header.originalSize !== first.originalSize
      ? `its original size is ${header.originalSize}, expected ${first.originalSize}`
      : !bytesEqual(header.fileNameField, first.fileNameField)
      ? "its file name differs from the first packet's"
      : undefined;
    if (problem !== undefined) {
      throw new ProtocolError(`Cannot accept packet ${index}: ${problem}`);
    }
  }
}
