/**
 * The streamed 828 send, from the disk to the socket in one pass: one request
 * header, then the packets, built from the file on the fly in constant
 * memory.
 *
 * ```text
 * file --read 1 MiB--> cksum.update --> AES-CBC       (ContentSource, below)
 *      --> content (ciphertext || cksum u32)
 *      --> packets: 267-byte header + 7925-byte chunk  (PacketWriter, protocol/)
 *      --> socket, ~1 MiB per write
 * ```
 *
 * Reading and encrypting the next batch overlaps with writing the current
 * one (one read and one write in flight at most), so the socket stays busy.
 * The cksum of the plaintext is complete when the file ends, just in time for
 * the trailer at the end of the content. The file is checked for changes:
 * it must end exactly at the size it had when checked, and keep its size and
 * modification time.
 *
 * @module
 */

import { errorMessage } from "../common/error_message.ts";
import { type ContentEncryptor, PaddingEncryptor } from "../protocol/padded_content.ts";
import { releaseBuffer } from "../common/release_buffer.ts";
import { writeAll, type Writer } from "../common/write_all.ts";
import {
  AesCbcEncryptor,
  Cksum,
  CKSUM_TRAILER_SIZE,
  type ClientId,
  contentSizeFor,
  encodeFileNameField,
  encodeRequestHeader,
  PacketWriter,
  RequestCode,
} from "../protocol/mod.ts";
import { ConfigError } from "./client_error.ts";
import type { UploadFile } from "./upload_file.ts";

/** Plaintext read per batch: 1 MiB, a multiple of the AES block. */
export const READ_BATCH_SIZE = 1024 * 1024;

/** What a send needs besides the socket. */
export interface SendFileOptions {
  /** The checked file. */
  file: UploadFile;
  /**
   * The AES key from 1602/1605; `null` inside the secure mode's TLS
   * connection, where the content is the padded plaintext
   * (`protocol/padded_content.ts`).
   */
  key: CryptoKey | null;
  /** Our client id, for the request header. */
  clientId: ClientId;
  /**
   * Called after each write with the file's bytes sent so far and its size
   * (the content on the wire, scaled to the file: padding and trailer are
   * not the user's bytes; a resumed send counts the kept bytes as sent).
   */
  onProgress?: (sent: number, total: number) => void;
  /**
   * A send from an offset (853, docs/protocol.md §13.4): the packets carry
   * the file from `offset`, after no request header of their own (the 853
   * went first), and the trailer is the cksum of the whole file, continued
   * from `cksum`, the cksum of the first `offset` bytes.
   */
  from?: { offset: number; cksum: Cksum };
}

/** Settles a promise into a value or an error, so a rejection is never unhandled. */
type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

function settle<T>(promise: Promise<T>): Promise<Settled<T>> {
  return promise.then((value) => ({ ok: true, value }), (error) => ({ ok: false, error }));
}

function settledValue<T>(settled: Settled<T>): T {
  if (!settled.ok) throw settled.error;
  return settled.value;
}

function changed(file: UploadFile, reason: string): ConfigError {
  return new ConfigError({
    action: `send ${file.path}`,
    reason: `${reason} while it was being read`,
    hint: "Wait until nothing writes to the file, then run the client again",
  });
}

/**
 * Reads the file in batches and yields the content: ciphertext batches, then
 * the last ciphertext block and the 4-byte cksum trailer.
 */
class ContentSource {
  #file: Deno.FsFile;
  #info: UploadFile;
  #encryptor: ContentEncryptor;
  #cksum: Cksum;
  /**
   * Two read buffers, used in turn: one batch is read into one while the
   * previous one, in the other, is still being sent (the secure mode sends
   * the plaintext from them as it is, without a copy).
   */
  readonly #buffers = [new Uint8Array(READ_BATCH_SIZE), new Uint8Array(READ_BATCH_SIZE)] as const;
  #turn: 0 | 1 = 0;
  #read: number;
  #done = false;

  /** Reads `file` from `from.offset` (positioned there), the cksum going on from `from.cksum`. */
  constructor(
    file: Deno.FsFile,
    info: UploadFile,
    key: CryptoKey | null,
    from: { offset: number; cksum: Cksum } = { offset: 0, cksum: new Cksum() },
  ) {
    this.#file = file;
    this.#info = info;
    this.#encryptor = key === null
      ? new PaddingEncryptor({ copy: false })
      : new AesCbcEncryptor(key);
    this.#read = from.offset;
    this.#cksum = from.cksum;
  }

  /** The next piece of content, or `null` after the trailer. */
  async next(): Promise<Uint8Array | null> {
    if (this.#done) return null;
    const want = Math.min(READ_BATCH_SIZE, this.#info.size - this.#read);
    const buffer = this.#buffers[this.#turn];
    this.#turn = this.#turn === 0 ? 1 : 0;
    let filled = 0;
    while (filled < want) {
      const n = await this.#file.read(buffer.subarray(filled, want));
      if (n === null) throw changed(this.#info, "the file got shorter");
      filled += n;
    }
    this.#read += filled;
    const plain = buffer.subarray(0, filled);
    this.#cksum.update(plain);
    const cipher = await this.#encryptor.update(plain);
    if (this.#read < this.#info.size) return cipher;
    this.#done = true;
    await this.#checkUnchanged();
    const last = await this.#encryptor.finish();
    const tail = new Uint8Array(cipher.length + last.length + CKSUM_TRAILER_SIZE);
    tail.set(cipher, 0);
    tail.set(last, cipher.length);
    new DataView(tail.buffer).setUint32(cipher.length + last.length, this.#cksum.digest(), true);
    return tail;
  }

  /**
   * Done with a piece from {@linkcode ContentSource.next} (it was sent):
   * frees it when it was made for it alone (WebCrypto's output, the tail);
   * a read buffer is kept for a later batch.
   */
  recycle(content: Uint8Array): void {
    if (this.#buffers.some((buffer) => buffer.buffer === content.buffer)) return;
    releaseBuffer(content);
  }

  /** The cksum of the plaintext; complete once `next` returned the trailer. */
  get cksum(): number {
    return this.#cksum.digest();
  }

  async #checkUnchanged(): Promise<void> {
    if ((await this.#file.read(new Uint8Array(1))) !== null) {
      throw changed(this.#info, "the file got longer");
    }
    const stat = await this.#file.stat();
    if (stat.size !== this.#info.size) throw changed(this.#info, "the file changed size");
    if ((stat.mtime?.getTime() ?? null) !== this.#info.mtime) {
      throw changed(this.#info, "the file was modified");
    }
  }
}

/** The share of the file's bytes that `sent` content bytes stand for. */
function fileBytesSent(sent: number, contentSize: number, fileSize: number): number {
  return sent >= contentSize ? fileSize : Math.floor(fileSize * (sent / contentSize));
}

/**
 * Sends the 828 request header and the whole file as packets, reading,
 * checksumming and encrypting as it goes.
 *
 * @returns The cksum of the file, to compare with the server's 1603.
 * @throws {ConfigError} if the file changes while it is read.
 * @throws whatever the writer throws; the caller maps socket errors.
 */
export async function sendFile(out: Writer, options: SendFileOptions): Promise<number> {
  const { file, from } = options;
  const offset = from?.offset ?? 0;
  const carried = file.size - offset;
  const contentSize = contentSizeFor(carried);
  const handle = await openFile(file);
  if (offset > 0) await handle.seek(offset, Deno.SeekMode.Start);
  const source = new ContentSource(handle, file, options.key, from);
  const packets = new PacketWriter(out, {
    contentSize,
    originalSize: carried,
    fileNameField: encodeFileNameField(file.name),
  }, {
    onWritten: (sent) =>
      options.onProgress?.(offset + fileBytesSent(sent, contentSize, carried), file.size),
  });
  let next: Promise<Settled<Uint8Array | null>> | undefined;
  try {
    if (from === undefined) {
      await writeAll(out, encodeRequestHeader(options.clientId, RequestCode.SendFile, 0));
    }
    next = settle(source.next());
    while (true) {
      const content = settledValue(await next);
      next = undefined;
      if (content === null) break;
      next = settle(source.next()); // read and encrypt the next batch while this one is written
      await packets.append(content);
      source.recycle(content); // copied into the packets
    }
    await packets.end();
    return source.cksum;
  } catch (error) {
    await next;
    await packets.abandon();
    throw error;
  } finally {
    handle.close();
  }
}

async function openFile(file: UploadFile): Promise<Deno.FsFile> {
  try {
    return await Deno.open(file.path, { read: true });
  } catch (error) {
    throw new ConfigError({
      action: `open ${file.path}`,
      reason: errorMessage(error),
      hint: "Check that the file is still there and readable",
    }, { cause: error });
  }
}
