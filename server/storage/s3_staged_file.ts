/**
 * One upload of {@linkcode S3FileStore} streaming into an S3 multipart
 * upload: parts of the store's part size, at most two in memory (one filling
 * while the other is sent), nothing visible under the key until `commit`.
 *
 * | state       | reached by | what S3 holds                                         |
 * | ----------- | ---------- | ----------------------------------------------------- |
 * | `open`      | creation   | the parts sent so far                                 |
 * | `sealed`    | `seal`     | every part, the last one included                     |
 * | `committed` | `commit`   | the object (CompleteMultipartUpload); marker deleted  |
 * | `suspended` | `suspend`  | the whole parts, kept for a resume                    |
 * | `discarded` | `discard`  | nothing (AbortMultipartUpload); marker deleted        |
 *
 * @example
 * ```ts ignore
 * const staged = new S3StagedFile(bucket, key, token, uploadId, marker, DEFAULT_PART_SIZE);
 * await staged.write(bytes);
 * await staged.seal();
 * await staged.commit();
 * ```
 *
 * @module
 */

import { type CompletedPart, UploadPartCommand } from "@aws-sdk/client-s3";
import { Cksum, Sha256 } from "../../protocol/mod.ts";
import type { KeptPrefix, StagedFile } from "./file_store.ts";
import type { HeldStaging } from "./held_staging.ts";
import type { S3Bucket } from "./s3_bucket.ts";

/** What a resumed upload starts from: its whole parts and the prefix they hold. */
export interface ResumedParts {
  /** The parts already uploaded, in order. */
  parts: CompletedPart[];
  /** The prefix they hold, with its digests. */
  kept: KeptPrefix & { digests: { crc: number } };
}

/** One upload streaming into a multipart upload. */
export class S3StagedFile implements StagedFile {
  readonly location: string;
  readonly stagingRef: string;
  readonly #bucket: S3Bucket;
  readonly #uploadId: string;
  readonly #token: string;
  readonly #marker: string;
  readonly #partSize: number;
  readonly #held: HeldStaging | undefined;
  #released = false;
  #buffer = new Uint8Array(0);
  #spare = new Uint8Array(0);
  #filled = 0;
  #parts: CompletedPart[] = [];
  #size = 0;
  #inFlight: Promise<void> = Promise.resolve();
  #state: "open" | "sealed" | "committed" | "discarded" | "suspended" = "open";
  /**
   * Hashes of what was written, to say what a suspended upload keeps (S3
   * cannot read parts back); `undefined` after a resume (the prefix's
   * SHA-256 state is not known here): then only the resumed prefix is kept.
   */
  #sha256: Sha256 | undefined = new Sha256();
  #cksum = new Cksum();
  /** The prefix whose parts are all uploaded, with its digests. */
  #kept: KeptPrefix = { length: 0 };

  /**
   * Stages into the multipart upload `uploadId` on `location`.
   *
   * @param bucket The bucket.
   * @param location The object key.
   * @param token The staging token (the object's metadata once committed).
   * @param uploadId The multipart upload.
   * @param marker The key of its staging marker.
   * @param partSize Size of each part but the last.
   * @param resumed The parts already there, when the upload is resumed.
   * @param held Where the store counts it held until it is committed,
   * discarded or suspended (for the running sweep); already marked held.
   */
  constructor(
    bucket: S3Bucket,
    location: string,
    token: string,
    uploadId: string,
    marker: string,
    partSize: number,
    resumed?: ResumedParts,
    held?: HeldStaging,
  ) {
    this.#held = held;
    this.#bucket = bucket;
    this.location = location;
    this.#token = token;
    this.#uploadId = uploadId;
    this.stagingRef = `${token}:${uploadId}`;
    this.#marker = marker;
    this.#partSize = partSize;
    if (resumed !== undefined) {
      this.#parts = resumed.parts;
      this.#size = resumed.kept.length;
      this.#kept = resumed.kept;
      this.#sha256 = undefined;
      this.#cksum = Cksum.resume(resumed.kept.digests.crc, resumed.kept.length);
    }
  }
  async write(bytes: Uint8Array): Promise<void> {
    this.#expect("open", "write");
    let offset = 0;
    while (offset < bytes.length) {
      if (this.#filled === this.#partSize) await this.#sendPart();
      this.#reserve(Math.min(this.#partSize, this.#filled + bytes.length - offset));
      const take = Math.min(bytes.length - offset, this.#partSize - this.#filled);
      const piece = bytes.subarray(offset, offset + take);
      this.#buffer.set(piece, this.#filled);
      this.#sha256?.update(piece);
      this.#cksum.update(piece);
      this.#filled += take;
      offset += take;
    }
    this.#size += bytes.length;
  }

  /** Grows the part buffer (doubling, up to the part size) to hold `needed` bytes. */
  #reserve(needed: number): void {
    if (needed <= this.#buffer.length) return;
    let capacity = Math.max(this.#buffer.length, 256 * 1024);
    while (capacity < needed) capacity *= 2;
    const grown = new Uint8Array(Math.min(capacity, this.#partSize));
    grown.set(this.#buffer.subarray(0, this.#filled));
    this.#buffer = grown;
  }

  /** Waits for the part in flight, then sends the buffer as the next part and swaps buffers. */
  async #sendPart(): Promise<void> {
    await this.#inFlight;
    const body = this.#buffer.subarray(0, this.#filled);
    const partNumber = this.#parts.length + 1;
    const part: CompletedPart = { PartNumber: partNumber };
    this.#parts.push(part);
    const end = this.#cksum.length;
    const digests = this.#sha256 === undefined
      ? undefined
      : { sha256: this.#sha256.copy().hex(), crc: this.#cksum.state };
    const sending = this.#bucket.client.send(
      new UploadPartCommand({
        Bucket: this.#bucket.name,
        Key: this.location,
        UploadId: this.#uploadId,
        PartNumber: partNumber,
        ContentLength: body.length,
        Body: body,
      }),
    ).then((output) => {
      part.ETag = output.ETag;
      if (digests !== undefined) this.#kept = { length: end, digests };
    });
    this.#inFlight = sending;
    sending.catch(() => {}); // awaited by the next part or by seal
    [this.#buffer, this.#spare] = [this.#spare, this.#buffer];
    this.#filled = 0;
  }

  async seal(): Promise<void> {
    this.#expect("open", "seal");
    if (this.#filled > 0 || this.#parts.length === 0) await this.#sendPart();
    await this.#inFlight;
    this.#buffer = this.#spare = new Uint8Array(0);
    this.#state = "sealed";
  }

  async commit(): Promise<void> {
    this.#expect("sealed", "commit");
    await this.#bucket.complete(
      this.location,
      this.#uploadId,
      this.#parts,
      this.#token,
      this.#size,
    );
    this.#state = "committed";
    this.#letGo();
    await this.#bucket.deleteMarker(this.#marker);
  }

  async suspend(): Promise<KeptPrefix> {
    this.#expect("open", "suspend");
    // A full part not yet sent is sent: only a part short of full is lost.
    if (this.#filled === this.#partSize) await this.#sendPart().catch(() => {});
    this.#state = "suspended";
    this.#buffer = this.#spare = new Uint8Array(0);
    await this.#inFlight.catch(() => {});
    if (this.#kept.length === 0) {
      this.#state = "open";
      await this.discard();
      return { length: 0 };
    }
    this.#letGo();
    return this.#kept;
  }

  async discard(): Promise<void> {
    if (this.#state === "committed" || this.#state === "discarded") return;
    this.#state = "discarded";
    this.#buffer = this.#spare = new Uint8Array(0);
    try {
      await this.#inFlight.catch(() => {});
      await this.#bucket.abort(this.location, this.#uploadId);
      await this.#bucket.deleteMarker(this.#marker);
    } finally {
      // An abort that failed leaves an orphan: the running sweep's.
      this.#letGo();
    }
  }

  /** Ends the hold, once. */
  #letGo(): void {
    if (this.#released) return;
    this.#released = true;
    this.#held?.letGo(this.stagingRef);
  }

  #expect(state: "open" | "sealed" | "suspended", action: string): void {
    if (this.#state !== state) {
      throw new Error(`Cannot ${action}: the staged upload is ${this.#state}`);
    }
  }
}
