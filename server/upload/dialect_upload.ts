/**
 * Receiving an upload of the other dialects (`docs/protocol.md` §15), from
 * socket to staged file, in constant memory: one request per packet (family
 * A per packet, family D) or the whole file in one request (families B and
 * C). The content is the ciphertext alone (no cksum trailer), under an AES
 * key of 16 or 32 bytes.
 *
 * 1. The request's head fixed the upload (read by the handler with the
 *    protocol's dialect codecs); its sizes were checked before anything
 *    else was read. An upload the session does not admit (the client is
 *    over its limits) is answered at once (`answerRefusal`), then read to
 *    its end into a buffer of its own and dropped. No family's client reads
 *    between the requests of one upload (`docs/protocol.md` §15), so the
 *    early answer waits in its socket until it reads: the bytes it sees are
 *    those of an answer sent after the last packet.
 * 2. The ciphertext is read in batches of up to 1 MiB, their memory from the
 *    server's shared budget (`buffer_budget.ts`), asked for only once a
 *    batch's first 64 KiB are in (no grant is held while the upload waits
 *    for the network), from a
 *    `CipherSource` (`cipher_source.ts`): `WholeFileSource` reads it straight
 *    from the request; `PacketSource` reads it from packet after
 *    packet, each a complete request checked by `PerPacketUpload` (same
 *    code, the client's id, the numbering, the sizes), skipping the padding
 *    of a fixed-size last chunk and reading an empty last packet.
 * 3. Each batch is decrypted (AES-CBC, streamed), checksummed and appended
 *    to a staged file (`upload_staging.ts`).
 * 4. The verdict: these dialects carry no cksum, so the only check is the
 *    last block's padding: what the original size calls for (one request
 *    per packet), or valid PKCS#7 (the whole file in one request, where the
 *    original size is what the padding leaves). A kept upload waits, sealed,
 *    for the client's verdict; one whose padding is wrong is discarded, and
 *    its answer carries the complement of our cksum, which no client takes
 *    for its own.
 * 5. A storage failure discards the staged file, the rest is still read,
 *    and a `StorageError` ends the upload with the connection in step.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { valueWithin } from "../../common/deadline.ts";
import { releaseBuffer } from "../../common/release_buffer.ts";
import {
  AES_BLOCK_SIZE,
  AesCbcDecryptor,
  Cksum,
  type ClientId,
  Sha256,
} from "../../protocol/mod.ts";
import { formatBytes } from "../../common/units.ts";
import type { BufferBudget } from "./buffer_budget.ts";
import type { FileStore } from "../storage/file_store.ts";
import { collectYoungGarbage } from "./memory.ts";
import { GC_EVERY_BATCHES, UploadRefusedError, type UploadResult } from "./upload.ts";
import { discardReasonOf, UploadStaging } from "./upload_staging.ts";
import type { CipherSource } from "./cipher_source.ts";

export { type CipherSource, PacketSource, WholeFileSource } from "./cipher_source.ts";

/** Ciphertext bytes read and decrypted in one batch, at most. */
export const DIALECT_BATCH_BYTES = 1024 * 1024;
/** Ciphertext bytes of a batch when memory is short. */
const MIN_BATCH_BYTES = 64 * 1024;
/** Memory a batch takes per ciphertext byte: as read, WebCrypto's copy, the plaintext. */
const MEMORY_PER_BYTE = 3;

/** What a dialect upload needs to know. */
export interface DialectUploadOptions {
  /** Where the ciphertext comes from. */
  source: CipherSource;
  /** The uploading client. */
  clientId: ClientId;
  /** The AES key (16 or 32 bytes) of this connection's key exchange. */
  aesKey: CryptoKey;
  /** The raw file name field, echoed in the answer. */
  fileNameField: Uint8Array;
  /** The name to store it under (`dialectFileName`). */
  fileName: string;
  /** The original size, when the request says it (one request per packet). */
  originalSize?: number;
  /** Where the upload is staged. */
  store: FileStore;
  /** The memory the batches come from, shared by every upload. */
  buffers: BufferBudget;
  /** Where progress goes. */
  logger: Logger;
  /** Asked before anything is staged: why this upload is not taken, or `undefined`. */
  admit?: (fileName: string, originalSize: number) => Promise<string | undefined>;
  /** Answers a refusal of `admit` at once, before the rest is read and dropped. */
  answerRefusal?: (reason: string) => Promise<void>;
}

/**
 * Receives one dialect upload (see the module documentation). The result's
 * `trailer` is our own cksum: these dialects carry none, their clients
 * compare the answer with theirs.
 *
 * @throws {ProtocolError} if a packet is invalid; the staged file is discarded.
 * @throws {Deno.errors.UnexpectedEof} if the connection ends mid-upload.
 * @throws {UploadRefusedError} if `admit` refused it; it was answered
 * (with `answerRefusal`), then read to its end.
 * @throws {StorageError} if the file could not be staged; it was read to its end.
 */
export async function receiveDialectUpload(options: DialectUploadOptions): Promise<UploadResult> {
  const started = performance.now();
  const { source, fileName } = options;
  const c = source.contentSize;
  options.logger.info("Upload of {fileName} started: {size} of ciphertext", {
    fileName,
    size: formatBytes(c),
  });
  const notAdmitted = await options.admit?.(fileName, options.originalSize ?? c - 1);
  if (notAdmitted !== undefined) {
    await options.answerRefusal?.(notAdmitted);
    await drain(source);
    throw new UploadRefusedError(notAdmitted, options.answerRefusal !== undefined);
  }
  const staging = await UploadStaging.begin(options.store, options.clientId, fileName);
  try {
    const plaintext = new DialectPlaintext(options.aesKey, staging, options.originalSize);
    await decryptAll(source, options.buffers, plaintext);
    await source.finish();
    const { originalSize, refusal } = await plaintext.finish(c);
    const cksum = plaintext.cksum;
    const staged = await staging.keepIf(refusal === undefined);
    return {
      fileName,
      fileNameField: options.fileNameField.slice(),
      contentSize: c,
      originalSize,
      cksum,
      sha256: plaintext.sha256,
      trailer: cksum,
      refusal,
      staged,
      durationMs: performance.now() - started,
    };
  } catch (error) {
    await staging.discard(discardReasonOf(error));
    throw error;
  }
}

/**
 * Reads the ciphertext batch by batch into `plaintext`. A batch's memory is
 * asked of the budget only once its first piece is in (read into the
 * upload's own {@linkcode PIECE_BYTES} buffer, outside the budget); the
 * pieces that follow join it while each arrives within
 * {@linkcode GATHER_MS}, and a piece still on its way then starts the next
 * batch. So no grant is held while the upload waits for the network, and a
 * slow upload cannot stall the others behind the budget (issue 17).
 */
async function decryptAll(
  source: CipherSource,
  buffers: BufferBudget,
  plaintext: DialectPlaintext,
): Promise<void> {
  using member = buffers.join();
  const pieces = new PieceReader(source);
  let next = pieces.read();
  while (next !== undefined) {
    const first = await next;
    using grant = await member.acquire(
      DIALECT_BATCH_BYTES * MEMORY_PER_BYTE,
      MIN_BATCH_BYTES * MEMORY_PER_BYTE,
    );
    const room = Math.floor(grant.bytes / MEMORY_PER_BYTE);
    const batch = new Uint8Array(Math.min(room, first + pieces.left));
    batch.set(pieces.piece(first));
    let filled = first;
    next = pieces.read();
    while (next !== undefined && filled + pieces.pending <= batch.length) {
      const n = await valueWithin(next, GATHER_MS);
      if (n === undefined) break;
      batch.set(pieces.piece(n), filled);
      filled += n;
      next = pieces.read();
    }
    await plaintext.add(batch.subarray(0, filled));
    releaseBuffer(batch);
  }
}

/** Bytes of ciphertext read at a time into an upload's own buffer, outside the budget. */
const PIECE_BYTES = 64 * 1024;
/** How long a batch waits for its next piece before it is decrypted without it. */
const GATHER_MS = 50;

/** Reads a source piece by piece into one buffer: one read in flight at a time. */
class PieceReader {
  readonly #source: CipherSource;
  readonly #buffer: Uint8Array;
  #asked = 0;
  /** The size of the read in flight. */
  pending = 0;

  constructor(source: CipherSource) {
    this.#source = source;
    this.#buffer = new Uint8Array(Math.min(PIECE_BYTES, source.contentSize));
  }

  /** Ciphertext bytes not yet asked for. */
  get left(): number {
    return this.#source.contentSize - this.#asked;
  }

  /** Starts reading the next piece; `undefined` when all was asked for. */
  read(): Promise<number> | undefined {
    if (this.left === 0) return undefined;
    const n = Math.min(this.#buffer.length, this.left);
    this.#asked += n;
    this.pending = n;
    const reading = this.#source.readInto(this.#buffer.subarray(0, n)).then(() => n);
    reading.catch(() => {}); // awaited by the caller; never an unhandled rejection meanwhile
    return reading;
  }

  /** The piece just read (valid until the next {@linkcode PieceReader.read}). */
  piece(n: number): Uint8Array {
    return this.#buffer.subarray(0, n);
  }
}

/**
 * Reads and drops the whole upload, so the connection stays in step, into
 * a buffer of its own: a refused upload takes nothing of the budget.
 */
async function drain(source: CipherSource): Promise<void> {
  const scratch = new Uint8Array(Math.min(PIECE_BYTES, Math.max(1, source.contentSize)));
  for (let left = source.contentSize; left > 0;) {
    const n = Math.min(left, scratch.length);
    await source.readInto(scratch.subarray(0, n));
    left -= n;
  }
  await source.finish();
}

/** Decrypts, checksums and stages the plaintext; judges the padding at the end. */
class DialectPlaintext {
  readonly #decryptor: AesCbcDecryptor;
  readonly #staging: UploadStaging;
  readonly #originalSize: number | undefined;
  readonly #sum = new Cksum();
  readonly #sha256 = new Sha256();
  #written = 0;
  #batches = 0;

  constructor(aesKey: CryptoKey, staging: UploadStaging, originalSize: number | undefined) {
    this.#decryptor = new AesCbcDecryptor(aesKey);
    this.#staging = staging;
    this.#originalSize = originalSize;
  }

  get cksum(): number {
    return this.#sum.digest();
  }

  /** The SHA-256 of the plaintext; read once, after {@linkcode DialectPlaintext.finish}. */
  get sha256(): string {
    return this.#sha256.hex();
  }

  async add(cipher: Uint8Array): Promise<void> {
    const plain = await this.#decryptor.update(cipher);
    await this.#keep(plain);
    releaseBuffer(plain);
    if (++this.#batches % GC_EVERY_BATCHES === 0) collectYoungGarbage();
  }

  /** Decrypts the last block and judges its padding. */
  async finish(contentSize: number): Promise<{ originalSize: number; refusal?: string }> {
    const last = await this.#decryptor.finish({ raw: true });
    const pad = this.#originalSize === undefined
      ? last[AES_BLOCK_SIZE - 1]!
      : contentSize - this.#originalSize;
    const valid = pad >= 1 && pad <= AES_BLOCK_SIZE &&
      last.subarray(AES_BLOCK_SIZE - pad).every((b) => b === pad);
    if (!valid) {
      await this.#keep(last);
      return {
        originalSize: this.#originalSize ?? this.#written,
        refusal: "the padding is not what the sizes call for",
      };
    }
    await this.#keep(last.subarray(0, AES_BLOCK_SIZE - pad));
    return { originalSize: contentSize - pad };
  }

  async #keep(plain: Uint8Array): Promise<void> {
    const room = (this.#originalSize ?? Infinity) - this.#written;
    const part = plain.subarray(0, Math.max(0, Math.min(plain.length, room)));
    if (part.length === 0) return;
    this.#sum.update(part);
    this.#sha256.update(part);
    this.#written += part.length;
    await this.#staging.write(part);
  }
}
