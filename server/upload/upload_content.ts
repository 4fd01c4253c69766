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
 * No upload holds memory of the budget while it waits for the network
 * (issue 17: 110 slow uploads holding their grants stalled a polite one for
 * 42 s): each batch's first packet is read into the upload's own packet
 * buffer (one packet, outside the budget) before memory is asked for, and
 * the packets that follow join the batch only while they keep coming, for
 * at most {@linkcode BATCH_GATHER_MS}. A grant is held while a batch is
 * gathered from data already flowing, then decrypted and written.
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

import {
  chunkLength,
  decodePacketHeader,
  type ExactReader,
  PACKET_CHUNK_SIZE,
  PACKET_HEADER_SIZE,
  PacketDecoder,
  type PacketHeader,
} from "../../protocol/mod.ts";
import { BatchBuffers } from "./batch_buffers.ts";
import type { BudgetMember, BufferBudget } from "./buffer_budget.ts";

/** Packets read from the socket in one go: 128 × 8192 bytes = 1 MiB. */
export const BATCH_PACKETS = 128;

/**
 * Longest a batch waits for its next packet while it holds memory of the
 * budget: after it, the packets in are decrypted and the grant given back.
 */
export const BATCH_GATHER_MS = 50;

/**
 * Memory one packet of a batch takes while it is read and decrypted, as
 * asked of the budget: the packet as read (then its chunk gathered), the
 * copy WebCrypto makes of its ciphertext, and the plaintext it returns.
 */
export const BATCH_BYTES_PER_PACKET = 3 * (PACKET_HEADER_SIZE + PACKET_CHUNK_SIZE);

/**
 * Idle batch buffers kept for reuse per budget (see `batch_buffers.ts`): one
 * upload's raw batch and content, and the content of the batch before it
 * (decrypted while this one is read), plus one; at most
 * {@linkcode KEPT_BATCH_BUFFERS} × ~1 MiB idle on top of the budget.
 */
export const KEPT_BATCH_BUFFERS = 4;

/** Largest batch buffer: a full batch as read, headers included. */
const BATCH_BUFFER_SIZE = BATCH_PACKETS * (PACKET_HEADER_SIZE + PACKET_CHUNK_SIZE);

const batchBuffers = new WeakMap<BufferBudget, BatchBuffers>();

/** The reusable batch buffers of `budget`'s uploads. */
function batchBuffersOf(budget: BufferBudget): BatchBuffers {
  let buffers = batchBuffers.get(budget);
  if (buffers === undefined) {
    buffers = new BatchBuffers(BATCH_BUFFER_SIZE, KEPT_BATCH_BUFFERS);
    batchBuffers.set(budget, buffers);
  }
  return buffers;
}

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
  readonly #buffers: BatchBuffers;
  /** Packets decoded. */
  #packet = 0;
  /** The next packet to read from the wire (packets read ahead are at most one). */
  #wirePacket = 0;
  /** Where each packet is read before it joins a batch: the upload's only memory outside the budget. */
  readonly #packetBuffer = new Uint8Array(PACKET_HEADER_SIZE + PACKET_CHUNK_SIZE);
  /** The packet read under way, if any. */
  #reading: Promise<Uint8Array> | undefined;

  private constructor(reader: ExactReader, decoder: PacketDecoder, budget: BufferBudget) {
    this.#reader = reader;
    this.#decoder = decoder;
    this.#member = budget.join();
    this.#buffers = batchBuffersOf(budget);
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
   * Reads the next batch: waits, holding no memory of the budget, for its
   * first packet; then, with a grant, gathers the packets that follow as
   * long as they come (at most {@linkcode BATCH_PACKETS}, at most what the
   * grant holds, for at most {@linkcode BATCH_GATHER_MS}). `null` when every
   * packet is in.
   *
   * @throws {ProtocolError} if a packet header does not match the first.
   * @throws {Deno.errors.UnexpectedEof} if the connection ends first.
   */
  async next(): Promise<ContentBatch | null> {
    const decoder = this.#decoder;
    if (decoder.done) return null;
    const first = await this.#nextPacket();
    const wanted = Math.min(BATCH_PACKETS, decoder.totalPackets - this.#packet);
    const grant = await this.#member.acquire(
      wanted * BATCH_BYTES_PER_PACKET,
      BATCH_BYTES_PER_PACKET,
    );
    try {
      const most = Math.min(wanted, Math.floor(grant.bytes / BATCH_BYTES_PER_PACKET));
      const buffers = this.#buffers;
      const raw = buffers.take(decoder.nextBatchSize(most));
      let content: Uint8Array;
      try {
        raw.set(first);
        this.#took();
        const filled = await this.#gather(raw, first.length, most - 1);
        content = buffers.take(decoder.contentBufferSize(filled.packets));
        const cipher = decoder.decodeBatch(raw.subarray(0, filled.bytes), content);
        this.#packet += filled.packets;
        let released = false;
        return {
          cipher,
          release: () => {
            if (released) return;
            released = true;
            buffers.recycle(content);
            grant.release();
          },
        };
      } finally {
        buffers.recycle(raw);
      }
    } catch (error) {
      grant.release();
      throw error;
    }
  }

  /**
   * Appends to `raw` (after `offset` bytes, one packet) up to `more` packets
   * that arrive within {@linkcode BATCH_GATHER_MS}; a packet still on its
   * way then is kept for the next batch.
   */
  async #gather(
    raw: Uint8Array,
    offset: number,
    more: number,
  ): Promise<{ packets: number; bytes: number }> {
    let packets = 1;
    let bytes = offset;
    if (more === 0) return { packets, bytes };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gathered = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), BATCH_GATHER_MS);
    });
    try {
      while (packets <= more) {
        const packet = await Promise.race([this.#nextPacket(), gathered]);
        if (packet === undefined) break; // the read goes on, for the next batch
        raw.set(packet, bytes);
        this.#took();
        bytes += packet.length;
        packets++;
      }
    } finally {
      clearTimeout(timer);
    }
    return { packets, bytes };
  }

  /**
   * The next packet on the wire, in the upload's own packet buffer; the
   * read under way, if any, is the one returned. Copy the packet, then call
   * {@linkcode UploadContentReader.#took}, before asking for the next one.
   */
  #nextPacket(): Promise<Uint8Array> {
    if (this.#reading !== undefined) return this.#reading;
    const index = this.#wirePacket++;
    const size = (index === 0 ? 0 : PACKET_HEADER_SIZE) +
      chunkLength(this.#decoder.first.contentSize, index);
    const target = this.#packetBuffer.subarray(0, size);
    const reading = this.#reader.readInto(target).then(() => target);
    reading.catch(() => {}); // its failure reaches whoever awaits it; never unhandled
    this.#reading = reading;
    return reading;
  }

  /** The packet read was copied: the packet buffer may take the next one. */
  #took(): void {
    this.#reading = undefined;
  }

  /**
   * Reads and drops the rest of the upload, so the connection stays in
   * step: packet by packet into the upload's own packet buffer, each header
   * checked against the first, nothing asked of the budget, nothing
   * decrypted (a refused upload costs one packet's memory).
   *
   * @throws {ProtocolError} if a packet header does not match the first.
   */
  async drain(): Promise<void> {
    const decoder = this.#decoder;
    const chunk = new Uint8Array(Math.min(PACKET_CHUNK_SIZE, decoder.first.contentSize));
    while (!decoder.done) {
      const packet = await this.#nextPacket();
      this.#took();
      decoder.decodeBatch(packet, chunk);
      this.#packet++;
    }
  }

  /** Leaves the budget, giving back the memory of any batch not yet released. */
  [Symbol.dispose](): void {
    this.#member.leave();
  }
}
