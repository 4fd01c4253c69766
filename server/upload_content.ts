/**
 * Reading an upload's packets from the connection into content, batch by
 * batch, with the protocol's {@linkcode PacketDecoder}: up to 128 packets
 * (about 1 MiB) are read straight from the connection in one go, their
 * headers checked against the first and their chunks gathered into one of
 * two content buffers, so that one batch can be decrypted while the next is
 * read.
 *
 * @example
 * ```ts
 * import { UploadContentReader } from "./upload_content.ts";
 * import { byteSourceOf, ExactReader, encodeFileNameField, PacketEncoder } from "../protocol/mod.ts";
 *
 * const upload = { contentSize: 20, originalSize: 15, fileNameField: encodeFileNameField("a.txt") };
 * const wire = new Uint8Array(287);
 * new PacketEncoder(upload).encodeInto(new Uint8Array(20).fill(7), wire);
 *
 * const content = await UploadContentReader.start(new ExactReader(byteSourceOf(wire)), 1000);
 * console.log((await content.next())?.length, await content.next()); // 16 null
 * console.log(content.trailer); // 117901063
 * ```
 *
 * @module
 */

import {
  decodePacketHeader,
  type ExactReader,
  PACKET_HEADER_SIZE,
  PacketDecoder,
  type PacketHeader,
} from "../protocol/mod.ts";

/** Packets read from the socket in one go: 128 × 8192 bytes = 1 MiB. */
export const BATCH_PACKETS = 128;

/** An upload's content, read from the connection batch by batch. */
export class UploadContentReader {
  readonly #reader: ExactReader;
  readonly #decoder: PacketDecoder;
  readonly #raw: Uint8Array;
  readonly #buffers: readonly [Uint8Array, Uint8Array];
  #batch = 0;

  private constructor(reader: ExactReader, decoder: PacketDecoder) {
    this.#reader = reader;
    this.#decoder = decoder;
    this.#raw = new Uint8Array(decoder.rawBufferSize(BATCH_PACKETS));
    const size = decoder.contentBufferSize(BATCH_PACKETS);
    this.#buffers = [new Uint8Array(size), new Uint8Array(size)];
  }

  /**
   * Reads the first packet header, which fixes the upload; its sizes are
   * checked before anything else is read or allocated.
   *
   * @throws {ProtocolError} if the header is not packet 0 of an upload of
   * at most `maxFileSize` bytes.
   */
  static async start(reader: ExactReader, maxFileSize: number): Promise<UploadContentReader> {
    const header = await reader.readExact(PACKET_HEADER_SIZE, PACKET_HEADER_SIZE);
    return new UploadContentReader(
      reader,
      new PacketDecoder(decodePacketHeader(header), maxFileSize),
    );
  }

  /** The first packet's header: sizes and file name field. */
  get first(): PacketHeader {
    return this.#decoder.first;
  }

  /** Size of the ciphertext (the content without its trailer). */
  get cipherSize(): number {
    return this.#decoder.cipherSize;
  }

  /** Number of packets in the upload. */
  get totalPackets(): number {
    return this.#decoder.totalPackets;
  }

  /** Content bytes received so far. */
  get received(): number {
    return this.#decoder.contentDecoded;
  }

  /** The client's cksum (the 4 bytes after the ciphertext), once every packet is in. */
  get trailer(): number {
    return this.#decoder.trailer;
  }

  /**
   * Reads the next batch and returns its ciphertext (possibly empty when the
   * batch holds only trailer bytes), or `null` when every packet is in. The
   * bytes stay valid until the call after the next one.
   *
   * @throws {ProtocolError} if a packet header does not match the first.
   * @throws {Deno.errors.UnexpectedEof} if the connection ends first.
   */
  async next(): Promise<Uint8Array | null> {
    if (this.#decoder.done) return null;
    const raw = this.#raw.subarray(0, this.#decoder.nextBatchSize(BATCH_PACKETS));
    await this.#reader.readInto(raw);
    return this.#decoder.decodeBatch(raw, this.#buffers[this.#batch++ % 2]!);
  }

  /** Reads and drops the rest of the upload, so the connection stays in step. */
  async drain(): Promise<void> {
    while (await this.next() !== null) { /* dropped */ }
  }
}
