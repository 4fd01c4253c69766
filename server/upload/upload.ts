/**
 * Receiving one 828 upload, from socket to staged file, in constant memory.
 * The story, each part in its own module:
 *
 * 1. The first packet header fixes the upload (`upload_content.ts`): content
 *    size, original size, packet count and file name are checked before
 *    anything is written. An upload the session does not admit (the client
 *    is over its limits) is answered at once ({@linkcode UploadOptions.answerRefusal}:
 *    1607 goes out before the rest arrives), then the rest of the declared
 *    upload is read and dropped cheaply, packet by packet (headers checked;
 *    no decryption, no buffer grant, nothing staged), under the request
 *    deadline, so the connection stays in step for its next request.
 * 2. Packets are read in batches of up to 128 (about 1 MiB) straight from the
 *    connection (`upload_content.ts`, with the protocol's packet decoder),
 *    into memory from the server's shared budget (`buffer_budget.ts`): under
 *    load, batches get smaller or wait. Each header must match the first one. The last 4 content bytes are the
 *    client's cksum (the trailer), not ciphertext.
 * 3. The ciphertext of each batch is decrypted (AES-256-CBC, streamed), cut
 *    to the original size (the reference never unpads), checksummed (cksum
 *    and SHA-256, the latter recorded with the file) and appended to a staged file (`upload_staging.ts`), while the next batch is
 *    read: at most one batch is being processed and one read at any time.
 * 4. The verdict (`verdict.ts`) keeps the upload when our cksum equals the
 *    trailer and the last block ends in the padding the sizes call for: the
 *    staged file is sealed (made durable) and handed to the session, which
 *    commits it on the client's 900 (`commit.ts`). Otherwise it is
 *    discarded, as it is on any failure on the way (a bad packet, a dropped
 *    connection).
 * 5. If storing fails (disk full, folder unwritable), the staged file is
 *    discarded at once, the rest of the upload is still read and dropped, and
 *    a {@linkcode StorageError} ends it: the connection stays usable.
 *
 * Decryption itself cannot fail: the sizes are checked up front, so the
 * ciphertext is a whole number of blocks, and the final block is taken raw.
 * Content encrypted under another key just decrypts to garbage, whose cksum
 * and padding give it away.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { type ContentDecryptor, PaddingDecryptor } from "../../protocol/padded_content.ts";
import { releaseBuffer } from "../../common/release_buffer.ts";
import {
  AesCbcDecryptor,
  Cksum,
  type ClientId,
  type ExactReader,
  Sha256,
} from "../../protocol/mod.ts";
import type { BufferBudget } from "./buffer_budget.ts";
import type { FileStore, KeptPrefix, StagedFile } from "../storage/file_store.ts";
import { isConnectionLost } from "../../common/connection_lost.ts";
import { formatBytes, plural } from "../../common/units.ts";
import { collectYoungGarbage } from "./memory.ts";
import { UploadContentReader } from "./upload_content.ts";
import { uploadFileName } from "./upload_name.ts";
import { discardReasonOf, UploadStaging } from "./upload_staging.ts";
import { uploadRefusal } from "./verdict.ts";

export { BATCH_BYTES_PER_PACKET, BATCH_PACKETS } from "./upload_content.ts";

/**
 * Batches between young-generation collections (see memory.ts): often enough
 * to keep resident memory flat, rarely enough not to cost throughput.
 */
export const GC_EVERY_BATCHES = 16;

/** Uploads at least this large log their progress every 10 %. */
export const PROGRESS_LOG_THRESHOLD = 64 * 1024 * 1024;

/** An upload the session would not take (see {@linkcode UploadOptions.admit}); it was read and dropped. */
export class UploadRefusedError extends Error {
  /** Whether the refusal was answered already, before the rest was read ({@linkcode UploadOptions.answerRefusal}). */
  readonly answered: boolean;

  /**
   * Creates the error.
   *
   * @param message `Cannot store <name>: <reason>`, sent to the client in 1607.
   * @param answered Whether the 1607 was sent already.
   */
  constructor(message: string, answered = false) {
    super(message);
    this.name = "UploadRefusedError";
    this.answered = answered;
  }
}

/** What an upload needs to know. */
export interface UploadOptions {
  /** The connection, positioned just after the 828 request header. */
  reader: ExactReader;
  /** The uploading client. */
  clientId: ClientId;
  /**
   * The AES key of this connection's key exchange; `null` on the secure
   * port, where the content is the padded plaintext inside TLS
   * (`protocol/padded_content.ts`).
   */
  aesKey: CryptoKey | null;
  /** Where the upload is staged. */
  store: FileStore;
  /** Largest original file size accepted. */
  maxFileSize: number;
  /** The memory the batch buffers come from, shared by every upload. */
  buffers: BufferBudget;
  /** Where progress goes. */
  logger: Logger;
  /**
   * Asked once the first packet is read: why this upload is not taken (the
   * client is over its limits), or `undefined` to take it.
   */
  admit?: (fileName: string, originalSize: number) => Promise<string | undefined>;
  /**
   * Answers a refusal of `admit` (1607) at once, before the rest of the
   * upload is read and dropped: a client that writes its whole upload
   * before reading finds it waiting, one that reads sooner gets it sooner.
   * Without it, the refusal is only thrown, after the drain.
   */
  answerRefusal?: (reason: string) => Promise<void>;
  /**
   * The path it is stored under, when the request carried one (853, see
   * `resume.ts`); otherwise the packets' file name.
   */
  path?: string;
  /**
   * Continues a kept partial upload (853 with an offset): the staged file
   * reopened after the first `offset` bytes, and the cksum and SHA-256 of
   * those bytes (the SHA-256 `undefined` where the store cannot read them
   * back: the file's SHA-256 is then not known). The packets carry the rest.
   */
  resume?: { staged: StagedFile; offset: number; cksum: Cksum; sha256: Sha256 | undefined };
  /**
   * A cut upload (the connection lost before the last packet): called with
   * its staged file suspended and what it kept, to record it for a resume.
   * Without it, a cut upload is discarded.
   */
  onCut?: (cut: CutUpload) => Promise<void>;
}

/** A cut upload's kept bytes: its path, its whole size, the suspended staged file and what it kept. */
export interface CutUpload {
  /** The path it is stored under. */
  fileName: string;
  /** The whole file's size. */
  size: number;
  /** The suspended staged file. */
  staged: StagedFile;
  /** What it kept. */
  kept: KeptPrefix;
}

/** The outcome of a complete upload. */
export interface UploadResult {
  /** The validated file name (NFC). */
  fileName: string;
  /** The raw 255-byte file name field, echoed in 1603. */
  fileNameField: Uint8Array;
  /** Content size (ciphertext + trailer). */
  contentSize: number;
  /** Size of the plaintext file. */
  originalSize: number;
  /** Our cksum of the decrypted content. */
  cksum: number;
  /**
   * The SHA-256 of the decrypted content (64 lowercase hexadecimal digits);
   * `null` for an upload resumed where the kept bytes cannot be read back (S3).
   */
  sha256: string | null;
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

/**
 * Receives one upload (see the module documentation for every step).
 *
 * @throws {ProtocolError} if a packet header is invalid or inconsistent; the
 * staged file is discarded and the connection cannot be resumed.
 * @throws {Deno.errors.UnexpectedEof} if the connection ends mid-upload.
 * @throws {UploadRefusedError} if `admit` refused it; it was answered
 * (with `answerRefusal`), then read to its end.
 * @throws {StorageError} if the file could not be staged (disk full, folder
 * unwritable); the whole upload was read, so the connection can go on.
 */
export async function receiveUpload(options: UploadOptions): Promise<UploadResult> {
  const started = performance.now();
  using content = await UploadContentReader.start(
    options.reader,
    options.maxFileSize,
    options.buffers,
  );
  const { contentSize, fileNameField } = content.first;
  const offset = options.resume?.offset ?? 0;
  const originalSize = offset + content.first.originalSize;
  const fileName = options.path ?? uploadFileName(fileNameField);
  options.logger.info("Upload of {fileName} started: {size} in {packets}{from}", {
    fileName,
    size: formatBytes(originalSize),
    packets: plural(content.totalPackets, "packet"),
    from: offset === 0 ? "" : `, resumed after the ${formatBytes(offset)} kept`,
  });
  const notAdmitted = await options.admit?.(fileName, originalSize);
  if (notAdmitted !== undefined) {
    await options.answerRefusal?.(notAdmitted);
    await content.drain();
    throw new UploadRefusedError(notAdmitted, options.answerRefusal !== undefined);
  }

  const staging = options.resume === undefined
    ? await UploadStaging.begin(options.store, options.clientId, fileName)
    : UploadStaging.over(fileName, options.resume.staged);
  try {
    const plaintext = new Plaintext(
      options.aesKey,
      content.first.originalSize,
      staging,
      options.resume,
    );
    await decryptAll(content, plaintext, progressLog(options.logger, fileName, contentSize));
    const lastBlock = await plaintext.finish();
    const cksum = plaintext.cksum;
    const sha256 = plaintext.sha256;
    const trailer = content.trailer;
    const padLength = content.cipherSize - content.first.originalSize;
    const refusal = uploadRefusal({ cksum, trailer, lastBlock, padLength });
    const staged = await staging.keepIf(refusal === undefined);
    return {
      fileName,
      fileNameField: fileNameField.slice(),
      contentSize,
      originalSize,
      cksum,
      sha256,
      trailer,
      refusal,
      staged,
      durationMs: performance.now() - started,
    };
  } catch (error) {
    const suspended = options.onCut !== undefined && isCut(error)
      ? await staging.suspend()
      : undefined;
    if (suspended === undefined) await staging.discard(discardReasonOf(error));
    else {
      await options.onCut!({ fileName, size: originalSize, ...suspended }).catch(async () => {
        await suspended.staged.discard("storage_error").catch(() => {}); // not recorded
      });
    }
    throw error;
  }
}

/** Whether an upload ended because its connection did: what a resume can continue. */
function isCut(error: unknown): boolean {
  return isConnectionLost(error) || error instanceof Deno.errors.InvalidData;
}

/**
 * Reads every batch and hands its ciphertext to `plaintext`, reading the
 * next batch while the previous one is decrypted and written.
 */
async function decryptAll(
  content: UploadContentReader,
  plaintext: Plaintext,
  onProgress: (received: number) => void,
): Promise<void> {
  let pending: Promise<void> = Promise.resolve();
  try {
    for (let batch = await content.next(); batch !== null; batch = await content.next()) {
      await pending;
      const { cipher, release } = batch;
      pending = plaintext.add(cipher).finally(release);
      pending.catch(() => {}); // awaited below; never an unhandled rejection
      onProgress(content.received);
    }
    await pending;
  } finally {
    await pending.catch(() => {});
  }
}

/** Decrypts, cuts to the original size, checksums and stages the plaintext. */
class Plaintext {
  readonly #decryptor: ContentDecryptor;
  readonly #sum: Cksum;
  readonly #sha256: Sha256 | undefined;
  readonly #staging: UploadStaging;
  #remaining: number;
  #batches = 0;

  /**
   * @param originalSize The bytes the packets carry.
   * @param resumed The hashes of the bytes kept before them, for a resumed upload.
   */
  constructor(
    aesKey: CryptoKey | null,
    originalSize: number,
    staging: UploadStaging,
    resumed?: { cksum: Cksum; sha256: Sha256 | undefined },
  ) {
    this.#decryptor = aesKey === null ? new PaddingDecryptor() : new AesCbcDecryptor(aesKey);
    this.#remaining = originalSize;
    this.#staging = staging;
    this.#sum = resumed?.cksum ?? new Cksum();
    this.#sha256 = resumed === undefined ? new Sha256() : resumed.sha256;
  }

  /** Our cksum of the plaintext so far. */
  get cksum(): number {
    return this.#sum.digest();
  }

  /** The SHA-256 of the plaintext, `null` when not known; read once, after {@linkcode Plaintext.finish}. */
  get sha256(): string | null {
    return this.#sha256?.hex() ?? null;
  }

  async add(cipher: Uint8Array): Promise<void> {
    const plain = await this.#decryptor.update(cipher);
    await this.#keep(plain);
    releaseBuffer(plain);
    if (++this.#batches % GC_EVERY_BATCHES === 0) collectYoungGarbage();
  }

  /** Decrypts the last block, raw, and returns it for the verdict. */
  async finish(): Promise<Uint8Array> {
    const lastBlock = await this.#decryptor.finish({ raw: true });
    await this.#keep(lastBlock);
    return lastBlock;
  }

  async #keep(plain: Uint8Array): Promise<void> {
    const take = Math.min(plain.length, this.#remaining);
    if (take <= 0) return;
    const part = plain.subarray(0, take);
    this.#sum.update(part);
    this.#sha256?.update(part);
    this.#remaining -= take;
    await this.#staging.write(part);
  }
}

/** Logs the progress of a large upload every 10 %. */
function progressLog(
  logger: Logger,
  fileName: string,
  contentSize: number,
): (received: number) => void {
  let next = 0.1;
  return (received) => {
    if (contentSize < PROGRESS_LOG_THRESHOLD || received / contentSize < next) return;
    logger.info("Upload of {fileName}: {percent} % received", {
      fileName,
      percent: Math.floor((received / contentSize) * 100),
    });
    next = Math.floor((received / contentSize) * 10 + 1) / 10;
  };
}
