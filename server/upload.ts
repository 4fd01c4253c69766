/**
 * Receiving one 828 upload, from socket to disk, in constant memory.
 *
 * 1. The first packet header fixes the upload: content size, original size,
 *    packet count and file name are checked before anything is written.
 * 2. Packets are read in batches of up to 128 (about 1 MiB) straight from the
 *    connection; each header must match the first one, with packet numbers
 *    0, 1, 2, ... modulo 65536. The chunks are gathered into a content buffer.
 * 3. The ciphertext part of each batch is decrypted (AES-256-CBC, streamed),
 *    checksummed and appended to a staged file (`upload_staging.ts`), while
 *    the next batch is read: at most one batch is being processed and one
 *    read at any time. The last 4 content bytes are the client's cksum (the
 *    trailer), not ciphertext.
 * 4. The plaintext is cut to the original size (the reference never unpads).
 *    The verdict (`verdict.ts`) keeps the file when our cksum equals the
 *    trailer and the last block ends in the padding the sizes call for: then
 *    the staged file is sealed (made durable) and handed to the session,
 *    which commits it on the client's 900; otherwise it is discarded. Any
 *    failure on the way (a bad packet, a dropped connection) discards it.
 * 5. If storing fails (disk full, folder unwritable), the staged file is
 *    discarded at once, the rest of the upload is still read and dropped, and
 *    a {@linkcode StorageError} ends it: the connection stays usable.
 *
 * Decryption itself cannot fail: the sizes are checked up front, so the
 * ciphertext is a whole number of blocks, and the final block is taken raw.
 * Content encrypted under another key just decrypts to garbage, whose cksum
 * and padding give it away, even when its sender knows the cksum it needs.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import {
  AesCbcDecryptor,
  bytesEqual,
  checkUploadSizes,
  chunkLength,
  Cksum,
  CKSUM_TRAILER_SIZE,
  type ClientId,
  decodeFileNameField,
  decodePacketHeader,
  type ExactReader,
  PACKET_CHUNK_SIZE,
  PACKET_HEADER_SIZE,
  packetCount,
  type PacketHeader,
  ProtocolError,
  releaseBuffer,
} from "../protocol/mod.ts";
import type { FileStore, StagedFile } from "./file_store.ts";
import { isTemporaryName } from "./file_store_local.ts";
import { collectYoungGarbage } from "./memory.ts";
import { UploadStaging } from "./upload_staging.ts";
import { uploadRefusal } from "./verdict.ts";

/** Packets read from the socket in one go: 128 × 8192 bytes = 1 MiB. */
export const BATCH_PACKETS = 128;

/**
 * Batches between young-generation collections (see memory.ts): often enough
 * to keep resident memory flat, rarely enough not to cost throughput.
 */
export const GC_EVERY_BATCHES = 16;

/** Uploads at least this large log their progress every 10 %. */
export const PROGRESS_LOG_THRESHOLD = 64 * 1024 * 1024;

/** What an upload needs to know. */
export interface UploadOptions {
  /** The connection, positioned just after the 828 request header. */
  reader: ExactReader;
  /** The uploading client. */
  clientId: ClientId;
  /** The AES key of this connection's key exchange. */
  aesKey: CryptoKey;
  /** Where the upload is staged. */
  store: FileStore;
  /** Largest original file size accepted. */
  maxFileSize: number;
  /** Where progress goes. */
  logger: Logger;
}

/** The outcome of a complete upload. */
export interface UploadResult {
  /** The validated file name. */
  fileName: string;
  /** The raw 255-byte file name field, echoed in 1603. */
  fileNameField: Uint8Array;
  /** Content size (ciphertext + trailer). */
  contentSize: number;
  /** Size of the plaintext file. */
  originalSize: number;
  /** Our cksum of the decrypted content. */
  cksum: number;
  /** The client's cksum from the trailer. */
  trailer: number;
  /** Why the file was not kept (see verdict.ts), or `undefined` when it was. */
  refusal: string | undefined;
  /**
   * The sealed staged file of a kept upload, waiting for the client's
   * verdict: 900 commits it, anything else discards it. `undefined` when the
   * upload was not kept.
   */
  staged: StagedFile | undefined;
  /** Milliseconds from the first packet header to the end. */
  durationMs: number;
}

function checkPacket(header: PacketHeader, index: number, first: PacketHeader): void {
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

/**
 * Receives one upload (see the module documentation for every step).
 *
 * @throws {ProtocolError} if a packet header is invalid or inconsistent; the
 * staged file is discarded and the connection cannot be resumed.
 * @throws {Deno.errors.UnexpectedEof} if the connection ends mid-upload.
 * @throws {StorageError} if the file could not be staged (disk full, folder
 * unwritable); the whole upload was read, so the connection can go on.
 */
export async function receiveUpload(options: UploadOptions): Promise<UploadResult> {
  const { reader, logger } = options;
  const started = performance.now();
  const firstBytes = await reader.readExact(PACKET_HEADER_SIZE, PACKET_HEADER_SIZE);
  const first = decodePacketHeader(firstBytes);
  if (first.packetNumber !== 0) {
    throw new ProtocolError(`Cannot accept packet 0: its number is ${first.packetNumber}`);
  }
  checkUploadSizes(first, options.maxFileSize);
  const fileName = decodeFileNameField(first.fileNameField);
  if (isTemporaryName(fileName)) {
    throw new ProtocolError("Cannot accept upload: the file name is reserved for temporary files");
  }
  const { contentSize, originalSize } = first;
  const cipherSize = contentSize - CKSUM_TRAILER_SIZE;
  const total = packetCount(contentSize);
  logger.info("Upload of {fileName} started: {originalSize} bytes in {packets} packets", {
    fileName,
    originalSize,
    packets: total,
  });

  const staging = await UploadStaging.begin(options.store, options.clientId, fileName);
  let pending: Promise<void> = Promise.resolve();
  try {
    const raw = new Uint8Array(
      Math.min(total, BATCH_PACKETS) * (PACKET_HEADER_SIZE + PACKET_CHUNK_SIZE),
    );
    const contentBuffers = [
      new Uint8Array(Math.min(total, BATCH_PACKETS) * PACKET_CHUNK_SIZE),
      new Uint8Array(Math.min(total, BATCH_PACKETS) * PACKET_CHUNK_SIZE),
    ] as const;
    const trailerBytes = new Uint8Array(CKSUM_TRAILER_SIZE);
    const decryptor = new AesCbcDecryptor(options.aesKey);
    const sum = new Cksum();
    let plainWritten = 0;
    const writePlain = async (plain: Uint8Array): Promise<void> => {
      const take = Math.min(plain.length, originalSize - plainWritten);
      if (take <= 0) return;
      const part = plain.subarray(0, take);
      sum.update(part);
      plainWritten += take;
      await staging.write(part);
    };
    let consumed = 0;
    const consume = async (cipher: Uint8Array): Promise<void> => {
      const plain = await decryptor.update(cipher);
      await writePlain(plain);
      releaseBuffer(plain);
      if (++consumed % GC_EVERY_BATCHES === 0) collectYoungGarbage();
    };

    let packet = 0;
    let contentOffset = 0;
    let batch = 0;
    let nextProgress = 0.1;
    while (packet < total) {
      const count = Math.min(BATCH_PACKETS, total - packet);
      let size = packet === 0 ? -PACKET_HEADER_SIZE : 0;
      for (let i = packet; i < packet + count; i++) {
        size += PACKET_HEADER_SIZE + chunkLength(contentSize, i);
      }
      const rawBatch = raw.subarray(0, size);
      await reader.readInto(rawBatch);

      const content = contentBuffers[batch % 2]!;
      let r = 0;
      let c = 0;
      for (let i = packet; i < packet + count; i++) {
        if (i !== 0) {
          checkPacket(decodePacketHeader(rawBatch.subarray(r, r + PACKET_HEADER_SIZE)), i, first);
          r += PACKET_HEADER_SIZE;
        }
        const length = chunkLength(contentSize, i);
        content.set(rawBatch.subarray(r, r + length), c);
        r += length;
        c += length;
      }
      const batchStart = contentOffset;
      const batchEnd = contentOffset + c;
      for (let k = Math.max(cipherSize, batchStart); k < batchEnd; k++) {
        trailerBytes[k - cipherSize] = content[k - batchStart]!;
      }
      const cipherLength = Math.max(0, Math.min(batchEnd, cipherSize) - batchStart);
      contentOffset = batchEnd;
      packet += count;
      batch++;

      // Wait for the previous batch before this one is decrypted; the next
      // read then overlaps this batch's decryption and write.
      await pending;
      pending = consume(content.subarray(0, cipherLength));
      pending.catch(() => {}); // awaited below; never an unhandled rejection

      if (contentSize >= PROGRESS_LOG_THRESHOLD && contentOffset / contentSize >= nextProgress) {
        logger.info("Upload of {fileName}: {percent} % received", {
          fileName,
          percent: Math.floor((contentOffset / contentSize) * 100),
        });
        nextProgress = Math.floor((contentOffset / contentSize) * 10 + 1) / 10;
      }
    }
    await pending;
    const lastBlock = await decryptor.finish({ raw: true });
    await writePlain(lastBlock);

    const cksum = sum.digest();
    const trailer = new DataView(trailerBytes.buffer).getUint32(0, true);
    const refusal = uploadRefusal({
      cksum,
      trailer,
      lastBlock,
      padLength: cipherSize - originalSize,
    });
    let staged: StagedFile | undefined;
    if (refusal === undefined) staged = await staging.seal();
    else await staging.discard();
    const failure = staging.failure;
    if (failure !== undefined) {
      await staged?.discard().catch(() => {});
      throw failure;
    }
    return {
      fileName,
      fileNameField: first.fileNameField.slice(),
      contentSize,
      originalSize,
      cksum,
      trailer,
      refusal,
      staged,
      durationMs: performance.now() - started,
    };
  } catch (error) {
    await pending.catch(() => {});
    await staging.discard();
    throw error;
  }
}
