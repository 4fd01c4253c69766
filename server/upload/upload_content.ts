/**
 * Reading an upload's packets from the connection into content, batch by
 * batch, with the protocol's {@linkcode PacketDecoder}: up to 128 packets
 * (about 1 MiB) are read straight from the connection in one go, their
 * headers checked against the first and their chunks gathered into a content
 * buffer, so that one batch can be decrypted while the next is read.
 *
 * Each batch's memory comes from the server's shared budget
 * (`buffer_budget.ts`) and goes back when the batch is released: one upload
 * alone gets whole batches, many get smaller ones or wait their turn, so
 * hundreds of uploads cannot take the server's memory.
 *
 * @example
 * ```ts
 * import { UploadContentReader } from "./upload_content.ts";
 * import { BufferBudget } from "./buffer_budget.ts";
 * import { byteSourceOf, ExactReader, encodeFileNameField, PacketEncoder } from "../../protocol/mod.ts";
 *
 * const upload = { contentSize: 20, originalSize: 15, fileNameField: encodeFileNameField("a.txt") };
 * const wire = new Uint8Array(287);
 * new PacketEncoder(upload).encodeInto(new Uint8Array(20).fill(7), wire);
 *
 * const budget = new BufferBudget(1024 * 1024);
 * using content = await UploadContentReader.start(new ExactReader(byteSourceOf(wire)), 1000, budget);
 * const batch = await content.next();
 * console.log(batch?.cipher.length, await content.next()); // 16 null
 * batch?.release();
 * console.log(content.trailer); // 117901063
 * ```
 *
 * @module
 */

import { releaseBuffer } from "../../common/release_buffer.ts";
import {
  decodePacketHeader,
  type ExactReader,
  PACKET_CHUNK_SIZE,
  PACKET_HEADER_SIZE,
  PacketDecoder,
  type PacketHeader,
} from "../../protocol/mod.ts";
import type { BudgetMember, BufferBudget } from "./buffer_budget.ts";

/** Packets read from the socket in one go: 128 × 8192 bytes = 1 MiB. */
export const BATCH_PACKETS = 128;

/**
 * Memory one packet of a batch takes while it is read and decrypted, as
 * asked of the budget: the packet as read (then its chunk gathered), the
 * copy WebCrypto makes of its ciphertext, and the plaintext it returns.
 */
export const BATCH_BYTES_PER_PACKET = 3 * (PACKET_HEADER_SIZE + PACKET_CHUNK_SIZE);

/** One batch of ciphertext; release it once it is decrypted and written. */
export interface ContentBatch {
  /** The batch's ciphertext, possibly empty when it holds only trailer bytes. */
  readonly cipher: Uint8Array;
  /** Frees the batch's memory and gives it back to the budget; `cipher` is unusable after. */
  release(): void;
}

/** An upload's content, read from the connection batch by batch; dispose it at the end. */
export class UploadContentReader implements Disposable {
  readonly #reader: ExactReader;
  readonly #decoder: PacketDecoder;
  readonly #member: BudgetMember;
  #packet = 0;

  private constructor(reader: ExactReader, decoder: PacketDecoder, budget: BufferBudget) {
    this.#reader = reader;
    this.#decoder = decoder;
    this.#member = budget.join();
  }

  /**
   * Reads the first packet header, which fixes the upload; its sizes are
   * checked before anything else is read or allocated.
   *
   * @param budget Where the batches' memory comes from.
   * @throws {ProtocolError} if the header is not packet 0 of an upload of
   * at most `maxFileSize` bytes.
   */
  static async start(
    reader: ExactReader,
    maxFileSize: number,
    budget: BufferBudget,
  ): Promise<UploadContentReader> {
    const header = await reader.readExact(PACKET_HEADER_SIZE, PACKET_HEADER_SIZE);
    return new UploadContentReader(
      reader,
      new PacketDecoder(decodePacketHeader(header), maxFileSize),
      budget,
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
   * Reads the next batch, as many packets as the budget grants now (at least
   * one, at most {@linkcode BATCH_PACKETS}); `null` when every packet is in.
   *
   * @throws {ProtocolError} if a packet header does not match the first.
   * @throws {Deno.errors.UnexpectedEof} if the connection ends first.
   */
  async next(): Promise<ContentBatch | null> {
    const decoder = this.#decoder;
    if (decoder.done) return null;
    const wanted = Math.min(BATCH_PACKETS, decoder.totalPackets - this.#packet);
    const grant = await this.#member.acquire(
      wanted * BATCH_BYTES_PER_PACKET,
      BATCH_BYTES_PER_PACKET,
    );
    try {
      const packets = Math.min(wanted, Math.floor(grant.bytes / BATCH_BYTES_PER_PACKET));
      const raw = new Uint8Array(decoder.nextBatchSize(packets));
      await this.#reader.readInto(raw);
      const content = new Uint8Array(packets * PACKET_CHUNK_SIZE);
      const cipher = decoder.decodeBatch(raw, content);
      releaseBuffer(raw);
      this.#packet += packets;
      return {
        cipher,
        release: () => {
          releaseBuffer(content);
          grant.release();
        },
      };
    } catch (error) {
      grant.release();
      throw error;
    }
  }

  /** Reads and drops the rest of the upload, so the connection stays in step. */
  async drain(): Promise<void> {
    for (let batch = await this.next(); batch !== null; batch = await this.next()) {
      batch.release();
    }
  }

  /** Leaves the budget, giving back the memory of any batch not yet released. */
  [Symbol.dispose](): void {
    this.#member.leave();
  }
}
