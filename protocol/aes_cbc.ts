/**
 * AES-256-CBC with a zero IV and PKCS#7 padding, as the protocol uses it,
 * streamed in constant memory on top of WebCrypto.
 *
 * WebCrypto only knows whole messages: every `encrypt` call pads and every
 * `decrypt` call expects padding. A stream is cut into batches (about 1 MiB
 * is fast; the caller chooses) and chained by hand:
 *
 * - encrypting a middle batch (a multiple of 16 bytes) returns one extra pad
 *   block, which is dropped; the last ciphertext block is the next IV;
 * - decrypting a middle batch needs valid padding at its end, so one extra
 *   block is appended: the encryption of a full pad block chained after the
 *   batch's last ciphertext block. WebCrypto decrypts it to exactly the pad
 *   it strips, and the batch's plaintext comes out whole.
 *
 * The result is byte-identical to one-shot encryption of the whole stream.
 *
 * @module
 */

import { AES_BLOCK_SIZE, AES_KEY_SIZE } from "./constants.ts";

const ZERO_IV = new Uint8Array(AES_BLOCK_SIZE);
const FULL_PAD_BLOCK = new Uint8Array(AES_BLOCK_SIZE).fill(AES_BLOCK_SIZE);

/** Creates a fresh random 32-byte AES-256 key. */
export function generateAesKey(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(AES_KEY_SIZE));
}

/**
 * Imports a raw 32-byte key for AES-CBC.
 *
 * @throws {RangeError} if the key is not 32 bytes.
 */
export function importAesKey(raw: Uint8Array): Promise<CryptoKey> {
  if (raw.length !== AES_KEY_SIZE) {
    throw new RangeError(`Cannot import AES key: ${raw.length} bytes instead of ${AES_KEY_SIZE}`);
  }
  return crypto.subtle.importKey("raw", raw as Uint8Array<ArrayBuffer>, "AES-CBC", false, [
    "encrypt",
    "decrypt",
  ]);
}

async function cbcEncrypt(key: CryptoKey, iv: Uint8Array, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-CBC", iv: iv as Uint8Array<ArrayBuffer> },
      key,
      data as Uint8Array<ArrayBuffer>,
    ),
  );
}

/**
 * The bytes of a stream that wait for more: whole blocks are handed out as
 * soon as they may be processed, the rest (never more than one block) stays.
 */
class BlockQueue {
  #pending = new Uint8Array(AES_BLOCK_SIZE);
  #length = 0;

  /** The bytes waiting. */
  get pending(): Uint8Array {
    return this.#pending.subarray(0, this.#length);
  }

  /**
   * Appends `chunk` and takes out the whole blocks that may be processed,
   * leaving `keep(total)` bytes queued (at most one block). The result is a
   * view of `chunk` when nothing was queued before, else a copy, in the
   * bytes `allocate` gives (a fresh array by default).
   */
  take(
    chunk: Uint8Array,
    keep: (total: number) => number,
    allocate: (length: number) => Uint8Array = (length) => new Uint8Array(length),
  ): Uint8Array {
    const total = this.#length + chunk.length;
    const whole = total - keep(total);
    if (whole <= 0) {
      this.#pending.set(chunk, this.#length);
      this.#length = total;
      return new Uint8Array(0);
    }
    const fromChunk = whole - this.#length;
    let blocks: Uint8Array;
    if (this.#length === 0) {
      blocks = chunk.subarray(0, whole);
    } else {
      blocks = allocate(whole);
      blocks.set(this.pending, 0);
      blocks.set(chunk.subarray(0, fromChunk), this.#length);
    }
    const rest = chunk.subarray(fromChunk);
    this.#pending.set(rest, 0);
    this.#length = rest.length;
    return blocks;
  }
}

/** Keeps the partial block: it may be completed by the next chunk. */
const keepPartialBlock = (total: number) => total % AES_BLOCK_SIZE;
/** Keeps the partial block, or the last whole block: it may be the final one. */
const keepLastBlock = (total: number) => total % AES_BLOCK_SIZE || AES_BLOCK_SIZE;

/**
 * Encrypts a stream chunk by chunk. Chunks may have any size; full blocks are
 * encrypted as they come, a partial block waits for the next chunk.
 *
 * @example
 * ```ts
 * const key = await importAesKey(generateAesKey());
 * const encryptor = new AesCbcEncryptor(key);
 * const parts = [
 *   await encryptor.update(new Uint8Array(20)), // 16 bytes: one whole block
 *   await encryptor.update(new Uint8Array(5)), // 0 bytes: 9 wait for a block
 *   await encryptor.finish(), // 16 bytes: the 9 and 7 bytes of padding
 * ];
 * // parts joined equal `await aesEncrypt(key, new Uint8Array(25))`
 * ```
 */
export class AesCbcEncryptor {
  #key: CryptoKey;
  #iv: Uint8Array = ZERO_IV;
  #queue = new BlockQueue();
  #finished = false;

  /**
   * Starts a stream with the protocol's zero IV.
   *
   * @param key An AES-CBC key from {@linkcode importAesKey}.
   */
  constructor(key: CryptoKey) {
    this.#key = key;
  }

  /** Encrypts what full blocks `chunk` completes; may return an empty array. */
  async update(chunk: Uint8Array): Promise<Uint8Array> {
    if (this.#finished) throw new TypeError("Cannot encrypt: the stream is finished");
    const input = this.#queue.take(chunk, keepPartialBlock);
    if (input.length === 0) return input;
    // WebCrypto pads every message: drop the pad block it adds.
    const output = (await cbcEncrypt(this.#key, this.#iv, input)).subarray(0, input.length);
    this.#iv = output.slice(input.length - AES_BLOCK_SIZE);
    return output;
  }

  /** Pads and encrypts the rest: always 16 bytes. */
  async finish(): Promise<Uint8Array> {
    if (this.#finished) throw new TypeError("Cannot encrypt: the stream is finished");
    this.#finished = true;
    return await cbcEncrypt(this.#key, this.#iv, this.#queue.pending);
  }
}

/**
 * Decrypts a stream chunk by chunk. Chunks may have any size. The last block
 * is held back until {@linkcode AesCbcDecryptor.finish}, which removes the
 * PKCS#7 padding, or, in raw mode, returns it as it is (the reference server
 * never unpads: it cuts the plaintext to the original size).
 */
export class AesCbcDecryptor {
  #key: CryptoKey;
  #iv: Uint8Array = ZERO_IV;
  #queue = new BlockQueue();
  #scratch = new Uint8Array(0);
  #finished = false;

  /**
   * Starts a stream with the protocol's zero IV.
   *
   * @param key An AES-CBC key from {@linkcode importAesKey}.
   */
  constructor(key: CryptoKey) {
    this.#key = key;
  }

  /**
   * Decrypts the full blocks of `chunk`, except the last block of the stream
   * so far, which is held back; may return an empty array.
   */
  async update(chunk: Uint8Array): Promise<Uint8Array> {
    if (this.#finished) throw new TypeError("Cannot decrypt: the stream is finished");
    // The blocks go straight into the scratch buffer, where the pad block
    // is then added: one copy per batch, not two.
    const input = this.#queue.take(chunk, keepLastBlock, (length) => this.#scratchFor(length));
    if (input.length === 0) return input;
    return await this.#decryptBlocks(input);
  }

  /**
   * Decrypts the held-back final block.
   *
   * @param options.raw Return the final block without removing padding.
   * @throws {RangeError} if the ciphertext is not a whole, non-empty number of
   * blocks, or (unless `raw`) its padding is not valid PKCS#7.
   */
  async finish(options: { raw?: boolean } = {}): Promise<Uint8Array> {
    if (this.#finished) throw new TypeError("Cannot decrypt: the stream is finished");
    this.#finished = true;
    const last = this.#queue.pending;
    if (last.length !== AES_BLOCK_SIZE) {
      throw new RangeError(
        `Cannot decrypt: the ciphertext is not a whole, non-empty number of ${AES_BLOCK_SIZE}-byte blocks`,
      );
    }
    const block = await this.#decryptBlocks(last);
    if (options.raw) return block;
    const pad = block[AES_BLOCK_SIZE - 1]!;
    if (
      pad < 1 || pad > AES_BLOCK_SIZE ||
      block.subarray(AES_BLOCK_SIZE - pad).some((b) => b !== pad)
    ) {
      throw new RangeError("Cannot decrypt: the padding is not valid PKCS#7");
    }
    return block.subarray(0, AES_BLOCK_SIZE - pad);
  }

  /**
   * The first `length` bytes of the scratch buffer, which has room for a
   * pad block after them. One scratch buffer for every batch: a fresh
   * megabyte per call would pile up as garbage faster than V8 collects it,
   * and each costs page faults at its first write.
   */
  #scratchFor(length: number): Uint8Array<ArrayBuffer> {
    if (this.#scratch.length < length + AES_BLOCK_SIZE) {
      this.#scratch = new Uint8Array(length + AES_BLOCK_SIZE);
    }
    return this.#scratch.subarray(0, length);
  }

  async #decryptBlocks(input: Uint8Array): Promise<Uint8Array> {
    const last = input.slice(input.length - AES_BLOCK_SIZE);
    // The block that decrypts to a full pad block after `last`.
    const padBlock = (await cbcEncrypt(this.#key, last, FULL_PAD_BLOCK)).subarray(
      0,
      AES_BLOCK_SIZE,
    );
    const inScratch = input.buffer === this.#scratch.buffer && input.byteOffset === 0;
    if (!inScratch) this.#scratchFor(input.length).set(input, 0);
    const padded = this.#scratch.subarray(0, input.length + AES_BLOCK_SIZE);
    padded.set(padBlock, input.length);
    const plain = new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-CBC", iv: this.#iv as Uint8Array<ArrayBuffer> },
        this.#key,
        padded,
      ),
    );
    this.#iv = last;
    return plain;
  }
}

/** Encrypts `data` in one call: AES-256-CBC, zero IV, PKCS#7. */
export async function aesEncrypt(key: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  return await cbcEncrypt(key, ZERO_IV, data);
}

/**
 * Decrypts `data` in one call and removes the padding.
 *
 * @throws {RangeError} if the ciphertext or its padding is invalid.
 */
export async function aesDecrypt(key: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-CBC", iv: ZERO_IV },
        key,
        data as Uint8Array<ArrayBuffer>,
      ),
    );
  } catch (error) {
    throw new RangeError("Cannot decrypt: the ciphertext or its padding is invalid", {
      cause: error,
    });
  }
}
