/**
 * The 828 packet encoder: content in (ciphertext || cksum trailer, in pieces
 * of any size), packets out (see packet.ts for the layout), written straight
 * into the caller's output buffer (`docs/protocol.md` §5). Pure and synchronous: it never allocates
 * per packet, and copies each content byte once.
 *
 * ```text
 * content pieces --encodeInto--> [267-byte header | 7925-byte chunk] [header | chunk] ... [header | last chunk]
 * ```
 *
 * An output buffer of 128 × 8192 bytes takes exactly 128 whole packets, so
 * batches stay aligned to packets. `PacketWriter` (packet_writer.ts)
 * drives it over a socket with one write in flight.
 *
 * @module
 */

import { PACKET_CHUNK_SIZE, PACKET_HEADER_SIZE } from "./constants.ts";
import { chunkLength, packetCount, type PacketHeader, writePacketHeader } from "./packet.ts";

/** What every packet header of one upload repeats. */
export interface UploadFields {
  /** Size of the whole content: ciphertext plus the 4-byte cksum trailer. */
  contentSize: number;
  /** Size of the plaintext file. */
  originalSize: number;
  /** The raw 255-byte file name field. */
  fileNameField: Uint8Array;
}

/** Bytes of one full packet on the wire: header and a 7925-byte chunk. */
export const FULL_PACKET_SIZE: number = PACKET_HEADER_SIZE + PACKET_CHUNK_SIZE;

/** Bytes of all the packets of `contentSize` bytes of content. */
export function packetsSize(contentSize: number): number {
  return contentSize + packetCount(contentSize) * PACKET_HEADER_SIZE;
}

/** How much of the content and of the output one {@linkcode PacketEncoder.encodeInto} used. */
export interface EncodeProgress {
  /** Content bytes consumed. */
  read: number;
  /** Output bytes written. */
  written: number;
}

/**
 * Cuts a stream of content into packets. Feed it the content in order, in
 * pieces of any size; it writes as much as the output holds and says how
 * much it took, so the caller sends the output and calls again with the rest.
 *
 * @example
 * ```ts
 * import { PacketEncoder } from "./packet_encoder.ts";
 * import { encodeFileNameField } from "./packet.ts";
 *
 * const content = new Uint8Array(20); // 16 bytes of ciphertext + 4 of trailer
 * const encoder = new PacketEncoder({
 *   contentSize: content.length,
 *   originalSize: 15,
 *   fileNameField: encodeFileNameField("a.txt"),
 * });
 * const out = new Uint8Array(1024);
 * const { read, written } = encoder.encodeInto(content, out);
 * console.log(read, written, encoder.done); // 20 287 true
 * ```
 */
export class PacketEncoder {
  #header: PacketHeader;
  #total: number;
  #packet = 0;
  #chunk: number;
  #inChunk = 0;
  #headerWritten = false;
  #encoded = 0;

  /**
   * Starts an upload's packets.
   *
   * @param upload The fields every header repeats; the packet count follows
   * from the content size.
   * @throws {RangeError} if the file name field is not 255 bytes or a size is not a u32.
   */
  constructor(upload: UploadFields) {
    this.#total = packetCount(upload.contentSize);
    this.#header = {
      contentSize: upload.contentSize,
      originalSize: upload.originalSize,
      packetNumber: 0,
      totalPackets: this.#total,
      fileNameField: upload.fileNameField,
    };
    writePacketHeader(new Uint8Array(PACKET_HEADER_SIZE), 0, this.#header); // checks the fields
    this.#chunk = this.#total === 0 ? 0 : chunkLength(upload.contentSize, 0);
  }

  /** Content bytes encoded so far. */
  get contentEncoded(): number {
    return this.#encoded;
  }

  /** Whether every packet is complete. */
  get done(): boolean {
    return this.#packet === this.#total;
  }

  /**
   * Writes packets for as much of `content` as `out` holds. It stops when
   * `content` is used up, or when `out` is full (less room than a header
   * left, or none for the chunk): then send `out` and call again with the
   * rest of the content.
   *
   * @throws {RangeError} if there is more content than the header announced.
   */
  encodeInto(content: Uint8Array, out: Uint8Array): EncodeProgress {
    let read = 0;
    let written = 0;
    while (read < content.length) {
      if (this.#packet >= this.#total) {
        throw new RangeError("Cannot build packets: more content than the header announced");
      }
      if (!this.#headerWritten) {
        if (out.length - written < PACKET_HEADER_SIZE) break;
        this.#header.packetNumber = this.#packet;
        writePacketHeader(out, written, this.#header);
        written += PACKET_HEADER_SIZE;
        this.#headerWritten = true;
      }
      const n = Math.min(this.#chunk - this.#inChunk, content.length - read, out.length - written);
      if (n === 0) break;
      out.set(content.subarray(read, read + n), written);
      written += n;
      read += n;
      this.#inChunk += n;
      if (this.#inChunk === this.#chunk) this.#nextPacket();
    }
    this.#encoded += read;
    return { read, written };
  }

  /**
   * Checks that the content is complete.
   *
   * @throws {RangeError} if less content came than the header announced.
   */
  finish(): void {
    if (!this.done) {
      throw new RangeError("Cannot build packets: less content than the header announced");
    }
  }

  #nextPacket(): void {
    this.#packet++;
    this.#inChunk = 0;
    this.#headerWritten = false;
    if (this.#packet < this.#total) {
      this.#chunk = chunkLength(this.#header.contentSize, this.#packet);
    }
  }
}
