/**
 * Where a dialect upload's ciphertext comes from (`docs/protocol.md` §15):
 * the rest of one whole-file request, or the chunks of packet after packet,
 * each a complete request checked against the upload.
 *
 * | source                          | dialects                              | what it reads                                          |
 * | ------------------------------- | ------------------------------------- | ------------------------------------------------------ |
 * | {@linkcode WholeFileSource}     | 1028 of family B, 1103 of family C    | the ciphertext straight from the request               |
 * | {@linkcode PacketSource}        | 828 of family A per packet, 1028 of D | each packet's chunk; the same code, the client's id, the numbering and sizes checked by `PerPacketUpload`; a fixed-size last chunk's padding skipped, an empty last packet read |
 *
 * @module
 */

import {
  bytesEqual,
  type ClientId,
  decodePacketHeader,
  decodeRequestHeader,
  type ExactReader,
  PACKET_HEADER_SIZE,
  ProtocolError,
  REQUEST_HEADER_SIZE,
} from "../../protocol/mod.ts";
import { MAX_PACKET_CHUNK, type PerPacketUpload } from "../../protocol/dialects/mod.ts";

/** Where a dialect upload's ciphertext comes from. */
export interface CipherSource {
  /** Ciphertext size c. */
  readonly contentSize: number;
  /**
   * Fills `target` with the next ciphertext bytes; `target` is never longer
   * than what is left.
   *
   * @throws {ProtocolError} if a packet does not continue the upload.
   * @throws {Deno.errors.UnexpectedEof} if the connection ends first.
   */
  readInto(target: Uint8Array): Promise<void>;
  /** Reads what follows the last ciphertext byte in the upload's requests (padding, an empty packet). */
  finish(): Promise<void>;
}

/** The ciphertext of a whole-file request (1028 of family B, 1103 of family C). */
export class WholeFileSource implements CipherSource {
  readonly #reader: ExactReader;
  /** Ciphertext size c. */
  readonly contentSize: number;

  /** The reader is positioned at the first ciphertext byte. */
  constructor(reader: ExactReader, contentSize: number) {
    this.#reader = reader;
    this.contentSize = contentSize;
  }

  /** Fills `target` from the request. */
  async readInto(target: Uint8Array): Promise<void> {
    await this.#reader.readInto(target);
  }

  /** Nothing follows the ciphertext. */
  finish(): Promise<void> {
    return Promise.resolve();
  }
}

/** The ciphertext of an upload sent one request per packet (828 of family A, 1028 of family D). */
export class PacketSource implements CipherSource {
  readonly #reader: ExactReader;
  readonly #upload: PerPacketUpload;
  readonly #code: number;
  readonly #clientId: ClientId;
  #take: number;
  #skip: number;

  /**
   * Starts after the first packet's header, whose chunk plan (`upload.accept`
   * of the first packet) is `first`.
   *
   * @param code The upload's request code: every packet must carry it.
   * @param clientId The signed-in client's id: every packet must carry it.
   */
  constructor(
    reader: ExactReader,
    upload: PerPacketUpload,
    first: { take: number; skip: number },
    code: number,
    clientId: ClientId,
  ) {
    this.#reader = reader;
    this.#upload = upload;
    this.#take = first.take;
    this.#skip = first.skip;
    this.#code = code;
    this.#clientId = clientId;
  }

  /** Ciphertext size c. */
  get contentSize(): number {
    return this.#upload.contentSize;
  }

  /** Fills `target` from the chunks of packet after packet. */
  async readInto(target: Uint8Array): Promise<void> {
    let filled = 0;
    while (filled < target.length) {
      if (this.#take === 0) {
        await this.#nextPacket();
        continue;
      }
      const n = Math.min(this.#take, target.length - filled);
      await this.#reader.readInto(target.subarray(filled, filled + n));
      this.#take -= n;
      filled += n;
    }
  }

  /** Skips the last chunk's padding and reads an empty last packet, if any. */
  async finish(): Promise<void> {
    while (this.#take === 0 && (this.#skip > 0 || !this.#upload.done)) await this.#nextPacket();
    if (this.#take !== 0) {
      throw new ProtocolError("Cannot accept file: content is left after the last byte");
    }
  }

  /** Skips the rest of this packet, then reads the next packet's two headers. */
  async #nextPacket(): Promise<void> {
    if (this.#skip > 0) {
      await this.#reader.skip(this.#skip);
      this.#skip = 0;
      return;
    }
    if (this.#upload.done) {
      throw new ProtocolError("Cannot accept file: the packets ended before the content");
    }
    const header = decodeRequestHeader(
      await this.#reader.readExact(REQUEST_HEADER_SIZE, REQUEST_HEADER_SIZE),
    );
    if (header.code !== this.#code) {
      throw new ProtocolError(
        `Cannot accept file: request ${header.code} in the middle of an upload (${this.#code} expected)`,
      );
    }
    if (!bytesEqual(header.clientId, this.#clientId)) {
      throw new ProtocolError("Cannot accept file: a packet carries another client's id");
    }
    const { payloadSize } = header;
    if (payloadSize < PACKET_HEADER_SIZE || payloadSize > PACKET_HEADER_SIZE + MAX_PACKET_CHUNK) {
      throw new ProtocolError(
        `Cannot accept file: a packet's payload size ${payloadSize} is not ${PACKET_HEADER_SIZE} to ${
          PACKET_HEADER_SIZE + MAX_PACKET_CHUNK
        }`,
      );
    }
    const packet = decodePacketHeader(
      await this.#reader.readExact(PACKET_HEADER_SIZE, PACKET_HEADER_SIZE),
    );
    const plan = this.#upload.accept(packet, payloadSize);
    this.#take = plan.take;
    this.#skip = plan.skip;
  }
}
