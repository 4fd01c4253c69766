/**
 * Sending 828 packets over a {@linkcode Writer} at full speed: a
 * {@linkcode PacketEncoder} fills one batch buffer (128 packets, 1 MiB) while
 * the previous batch is being written. Two buffers, at most one write in
 * flight; each content byte is copied once, into the batch.
 *
 * @module
 */

import { FULL_PACKET_SIZE, PacketEncoder, type UploadFields } from "./packet_encoder.ts";
import { writeAll, type Writer } from "../common/write_all.ts";

/** Packets per write by default: 128 packets of 8192 bytes, 1 MiB. */
export const PACKETS_PER_WRITE = 128;

/** How a {@linkcode PacketWriter} batches and reports. */
export interface PacketWriterOptions {
  /** Whole packets per write; default {@linkcode PACKETS_PER_WRITE}. */
  packetsPerWrite?: number;
  /** Called after each write with the content bytes written so far. */
  onWritten?: (contentBytes: number) => void;
}

/**
 * Cuts content into packets in a batch buffer and writes each full batch
 * while the next one fills.
 *
 * @example
 * ```ts
 * import { PacketWriter } from "./packet_writer.ts";
 * import { encodeFileNameField } from "./packet.ts";
 *
 * const sent: Uint8Array[] = [];
 * const out = { write: (p: Uint8Array) => (sent.push(p.slice()), Promise.resolve(p.length)) };
 * const packets = new PacketWriter(out, {
 *   contentSize: 20,
 *   originalSize: 15,
 *   fileNameField: encodeFileNameField("a.txt"),
 * });
 * await packets.append(new Uint8Array(20));
 * await packets.end(); // sent: one packet of 287 bytes
 * ```
 */
export class PacketWriter {
  #out: Writer;
  #encoder: PacketEncoder;
  #buffers: [Uint8Array, Uint8Array];
  #current = 0;
  #used = 0;
  #pending: Promise<void> | undefined;
  #onWritten: ((contentBytes: number) => void) | undefined;

  /**
   * Prepares the batches; nothing is written until a batch is full or
   * {@linkcode PacketWriter.end} is called.
   *
   * @param out Where the packets go (a socket).
   * @param upload The fields every packet header repeats.
   * @param options Batch size and progress callback.
   * @throws {RangeError} if a field does not fit or the batch size is not a
   * positive whole number.
   */
  constructor(out: Writer, upload: UploadFields, options: PacketWriterOptions = {}) {
    this.#out = out;
    this.#encoder = new PacketEncoder(upload);
    const packets = options.packetsPerWrite ?? PACKETS_PER_WRITE;
    if (!Number.isSafeInteger(packets) || packets < 1) {
      throw new RangeError(`Cannot batch packets: ${packets} packets per write`);
    }
    const size = packets * FULL_PACKET_SIZE;
    this.#buffers = [new Uint8Array(size), new Uint8Array(size)];
    this.#onWritten = options.onWritten;
  }

  /**
   * Appends content bytes, writing batches as they fill. `content` may be
   * reused once this resolves.
   *
   * @throws {RangeError} if there is more content than the header announced.
   * @throws whatever the writer throws.
   */
  async append(content: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < content.length) {
      const buffer = this.#buffers[this.#current]!;
      const { read, written } = this.#encoder.encodeInto(
        content.subarray(offset),
        buffer.subarray(this.#used),
      );
      offset += read;
      this.#used += written;
      if (offset < content.length) await this.#flush(); // the batch is full
    }
  }

  /**
   * Writes what is buffered and waits for every write.
   *
   * @throws {RangeError} if less content came than the header announced.
   * @throws whatever the writer throws.
   */
  async end(): Promise<void> {
    this.#encoder.finish();
    await this.#flush();
    await this.#wait();
  }

  /** Waits for the write in flight, if any, so nothing outlives a failure; never rejects. */
  async abandon(): Promise<void> {
    await this.#pending?.catch(() => {});
  }

  async #wait(): Promise<void> {
    const pending = this.#pending;
    this.#pending = undefined;
    await pending;
  }

  async #flush(): Promise<void> {
    await this.#wait();
    if (this.#used === 0) return;
    const batch = this.#buffers[this.#current]!.subarray(0, this.#used);
    const contentBytes = this.#encoder.contentEncoded;
    const pending = writeAll(this.#out, batch).then(() => this.#onWritten?.(contentBytes));
    pending.catch(() => {}); // awaited by the next flush, end or abandon
    this.#pending = pending;
    this.#current = 1 - this.#current;
    this.#used = 0;
  }
}
