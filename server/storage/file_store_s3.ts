/**
 * A {@linkcode FileStore} in S3-compatible object storage, shared by several
 * server instances.
 *
 * A file is the object `<client id hex>/<file name>` in the bucket. An upload
 * streams into a multipart upload created on that key as it is decrypted
 * (parts of {@linkcode DEFAULT_PART_SIZE}; at most two parts in memory, one
 * filling while the other is sent), so nothing is visible under the key until
 * CompleteMultipartUpload, called on the client's 900; anything else aborts it.
 *
 * | call      | S3                                                                   |
 * | --------- | -------------------------------------------------------------------- |
 * | `begin`   | CreateMultipartUpload (metadata `ft-token`), PutObject of a marker   |
 * | `write`   | UploadPart each time a part is full                                  |
 * | `seal`    | UploadPart of the last part                                          |
 * | `commit`  | CompleteMultipartUpload, then HeadObject checks the token and size   |
 * | `discard` | AbortMultipartUpload, DeleteObject of the marker                     |
 * | `openRead`| GetObject, with `Range: bytes=<offset>-` past the start; the body streamed |
 *
 * The staging reference is `<token>:<upload id>`. The random token is the
 * object's metadata once committed, so after a crash {@linkcode S3FileStore.recover}
 * tells "this upload reached its key" from "an older file has that key"
 * (some gateways, Ceph's among them, answer CompleteMultipartUpload with an
 * empty ETag: HeadObject is what checks).
 *
 * Each upload in progress has a marker object
 * `~staging/<holder>/<token>/<upload id, URI-encoded>`, naming the instance
 * that owns it. At start-up, {@linkcode S3FileStore.removeAbandoned} aborts
 * the multipart uploads whose owner is gone, and leaves those of live
 * instances alone; an upload without a marker (its owner died between the
 * two calls of `begin`) is aborted once it is {@linkcode UNMARKED_GRACE_MS}
 * old. `~` is not a hexadecimal digit, so no client's key starts with it.
 *
 * While the server runs, {@linkcode S3FileStore.sweepStaged} aborts, in
 * bounded steps, the multipart uploads nobody live holds. The rule, for an
 * upload begun more than the sweep's age ago (`--verdict-timeout` twice):
 *
 * | the upload's markers                                   | aborted?                       |
 * | ------------------------------------------------------ | ------------------------------ |
 * | a marker names a kept partial upload (`partials`)      | never: it is meant for a resume |
 * | this instance's, held by a live upload of it (or let go moments ago) | no          |
 * | this instance's, held by none (a discard that failed, a forgotten partial) | yes    |
 * | another instance's that is alive                       | no: its own sweep judges it    |
 * | another instance's that is gone (crashed)              | yes                            |
 * | none                                                   | once {@linkcode UNMARKED_GRACE_MS} old |
 *
 * A resume marks the upload as its new holder's before the old marker goes,
 * so an upload taken over is never unmarked nor marked by a dead instance
 * only, and its instance holds it from before it takes the partial record
 * (`holdStaged`). What remains: a resume on another instance that took the partial
 * record but has not yet marked the upload (a few milliseconds), if a sweep
 * reads both the partials and the markers within those milliseconds: the
 * resume is then refused and the client sends the file whole; nothing
 * stored is touched.
 *
 * The parts: this file opens the store and answers its calls;
 * `s3_staged_file.ts` is one upload streaming into its multipart upload,
 * `s3_object_reader.ts` one read, `s3_bucket.ts` the S3 calls they share
 * (complete, abort, markers, paged listings).
 *
 * Keys: `<client id hex>/<path>`, where the path is a file name or folders
 * and a name (`photos/cat.jpg`), every component checked by the name rules
 * here again whatever the caller checked (`stored_path.ts`: no `.`, `..`,
 * `\`, empty component, leading `/`, control character, ...), so no client
 * input can make another client's key.
 *
 * @example
 * ```ts ignore
 * const store = await S3FileStore.open({
 *   endpoint: "http://127.0.0.1:7480", region: "us-east-1", bucket: "files",
 *   accessKeyId: "key", secretAccessKey: "secret", liveness: soleInstance(),
 * });
 * ```
 *
 * @module
 */

import {
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { bytesToHex, type ClientId, clientIdToHex } from "../../protocol/mod.ts";
import { StartupError } from "../errors.ts";
import {
  type FileStore,
  type StagedFile,
  type StagedSweepRule,
  type StoredFileReader,
  SWEEP_LOOK_AT,
  SWEEP_REMOVE,
} from "./file_store.ts";
import { HeldStaging } from "./held_staging.ts";
import type { CommitIntent } from "./registry.ts";
import type { InstanceLiveness } from "./instance_liveness.ts";
import {
  isMissing,
  parseStagingRef,
  S3Bucket,
  type StagingMarker,
  statusOf,
  TOKEN_METADATA,
  type UploadInProgress,
  type UploadsCursor,
} from "./s3_bucket.ts";
import { createS3Client, describeS3Error, type S3Settings } from "./s3_client.ts";
import { S3ObjectReader } from "./s3_object_reader.ts";
import { S3StagedFile } from "./s3_staged_file.ts";
import { parseLocation, storedLocation } from "./stored_path.ts";

export { MARKER_PREFIX } from "./s3_bucket.ts";

/** Size of each part but the last: S3's minimum, 5 MiB. */
export const DEFAULT_PART_SIZE = 5 * 1024 * 1024;
/** An upload without a marker is left alone this long (its owner may be writing the marker). */
export const UNMARKED_GRACE_MS = 10 * 60 * 1000;

/** The object store cannot be used: unreachable, no such bucket, credentials refused. */
export class ObjectStoreError extends StartupError {
  /**
   * Creates the error.
   *
   * @param message `Cannot open object store <bucket> at <endpoint>: <reason>`.
   * @param options Standard error options; `cause` is the S3 client's error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ObjectStoreError";
  }
}

/** How to open the store. */
export interface S3StoreOptions extends S3Settings {
  /** The bucket; it must exist. */
  bucket: string;
  /** Who is alive, to leave live instances' uploads alone. */
  liveness: InstanceLiveness;
  /** Part size in bytes, at least 5 MiB; default {@linkcode DEFAULT_PART_SIZE}. */
  partSize?: number;
}

/**
 * The key of `path` for `clientId`: `<client id hex>/<path>`.
 *
 * @throws {RangeError} when the path breaks a rule of `stored_path.ts`.
 */
export function objectKey(clientId: ClientId, path: string): string {
  return storedLocation(clientId, path);
}

/** Checks that `key` is `<client id hex>/<valid path>` (a location from the registry). */
function checkKey(key: string): void {
  parseLocation(key);
}

/** The file store in an S3 bucket. */
export class S3FileStore implements FileStore {
  /** The S3 client. */
  readonly client: S3Client;
  /** The bucket. */
  readonly bucket: string;
  readonly #s3: S3Bucket;
  readonly #liveness: InstanceLiveness;
  readonly #partSize: number;
  /** The uploads this process's live connections hold (for the running sweep). */
  readonly #held = new HeldStaging();
  /** Where the running sweep stopped in the listing of uploads; from the start when absent. */
  #sweptUpTo: UploadsCursor | undefined;

  private constructor(client: S3Client, options: S3StoreOptions) {
    this.client = client;
    this.bucket = options.bucket;
    this.#s3 = new S3Bucket(client, options.bucket);
    this.#liveness = options.liveness;
    this.#partSize = options.partSize ?? DEFAULT_PART_SIZE;
  }

  /**
   * Connects and checks that the bucket is there and usable.
   *
   * @throws {ObjectStoreError} when the gateway is unreachable, the bucket
   * missing or the credentials refused.
   */
  static async open(options: S3StoreOptions): Promise<S3FileStore> {
    const partSize = options.partSize ?? DEFAULT_PART_SIZE;
    if (!Number.isSafeInteger(partSize) || partSize < DEFAULT_PART_SIZE) {
      throw new RangeError(`Cannot use a part size of ${partSize} bytes: S3 needs at least 5 MiB`);
    }
    const client = createS3Client(options);
    try {
      await client.send(new HeadBucketCommand({ Bucket: options.bucket }));
    } catch (error) {
      client.destroy();
      const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata
        ?.httpStatusCode;
      const reason = status === 404
        ? "no such bucket"
        : status === 403
        ? "access denied (check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        : describeS3Error(error);
      throw new ObjectStoreError(
        `Cannot open object store ${options.bucket} at ${options.endpoint}: ${reason}`,
        { cause: error },
      );
    }
    return new S3FileStore(client, options);
  }

  async begin(clientId: ClientId, fileName: string): Promise<StagedFile> {
    const key = objectKey(clientId, fileName);
    const token = bytesToHex(crypto.getRandomValues(new Uint8Array(16)));
    const created = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        Metadata: { [TOKEN_METADATA]: token },
      }),
    );
    const uploadId = created.UploadId;
    if (uploadId === undefined || uploadId === "") {
      throw new Error(`Cannot stage ${fileName}: the object store gave no upload id`);
    }
    let marker: string;
    try {
      marker = await this.#s3.putMarker(this.#liveness.holder, token, uploadId, key);
    } catch (error) {
      await this.#s3.abort(key, uploadId).catch(() => {});
      throw error;
    }
    this.#held.hold(`${token}:${uploadId}`);
    return new S3StagedFile(
      this.#s3,
      key,
      token,
      uploadId,
      marker,
      this.#partSize,
      undefined,
      this.#held,
    );
  }

  holdStaged(stagingRef: string): () => void {
    return this.#held.holdUntil(stagingRef);
  }

  /**
   * Continues a suspended multipart upload: its first `length / partSize`
   * parts are the kept prefix (ListParts), later ones are overwritten; the
   * markers of its earlier holder are replaced by this instance's. `length`
   * comes with the digests recorded when it was suspended.
   */
  async resume(
    clientId: ClientId,
    fileName: string,
    stagingRef: string,
    length: number,
    digests?: { sha256: string; crc: number },
  ): Promise<StagedFile> {
    const key = objectKey(clientId, fileName);
    const { token, uploadId } = parseStagingRef(stagingRef);
    if (digests === undefined || length === 0 || length % this.#partSize !== 0) {
      throw new RangeError(`Cannot resume ${key}: ${length} bytes are not whole parts`);
    }
    const count = length / this.#partSize;
    const listed = await this.#s3.listParts(key, uploadId) ?? [];
    const parts = listed.filter((part) => (part.PartNumber ?? 0) <= count)
      .sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    if (parts.length !== count || parts.some((part, i) => part.PartNumber !== i + 1)) {
      throw new RangeError(`Cannot resume ${key}: ${parts.length} of its ${count} parts are there`);
    }
    // Marked as this instance's before the earlier holder's marks go: at no moment is it
    // unmarked, or marked by a dead instance only (the running sweep of another instance).
    const marker = await this.#s3.putMarker(this.#liveness.holder, token, uploadId, key);
    for (const marked of await this.#s3.allMarkers()) {
      if (marked.uploadId === uploadId && marked.key !== marker) {
        await this.#s3.deleteMarker(marked.key);
      }
    }
    this.#held.hold(stagingRef);
    return new S3StagedFile(this.#s3, key, token, uploadId, marker, this.#partSize, {
      parts,
      kept: { length, digests },
    }, this.#held);
  }

  /** S3 cannot read the parts of an upload in progress back: the recorded digests stand in. */
  readStaged(): undefined {
    return undefined;
  }

  async discardStaged(clientId: ClientId, fileName: string, stagingRef: string): Promise<void> {
    const key = objectKey(clientId, fileName);
    const { uploadId } = parseStagingRef(stagingRef);
    await this.#s3.abort(key, uploadId);
    for (const marked of await this.#s3.allMarkers()) {
      if (marked.uploadId === uploadId) await this.#s3.deleteMarker(marked.key);
    }
  }

  async recover(intent: CommitIntent): Promise<"committed" | "discarded"> {
    checkKey(intent.location);
    const { token, uploadId } = parseStagingRef(intent.stagingRef);
    const head = await this.#s3.head(intent.location);
    if (head?.token === token) return "committed";
    // An intent is recorded only once every part is uploaded (seal): complete it.
    const parts = await this.#s3.listParts(intent.location, uploadId);
    if (parts === undefined || parts.length === 0) return "discarded";
    await this.#s3.complete(intent.location, uploadId, parts, token, intent.size);
    return "committed";
  }

  async removeAbandoned(
    isLive: (stagingRef: string) => boolean | Promise<boolean>,
  ): Promise<string[]> {
    const markers = await this.#s3.markers();
    const removed: string[] = [];
    const now = Date.now();
    for (const upload of await this.#s3.uploads()) {
      const marked = markers.get(upload.uploadId);
      if (marked !== undefined) {
        marked.upload = true;
        // A cut upload kept for a resume lives on whoever kept it.
        if (await isLive(`${marked.token}:${upload.uploadId}`)) continue;
        // This instance's own uploads are judged by the caller; others' by their owner's life.
        if (marked.holder === this.#liveness.holder) {
          if (await isLive(`${marked.token}:${upload.uploadId}`)) continue;
        } else if (await this.#liveness.isAlive(marked.holder)) {
          continue;
        }
      } else if (now - upload.initiated < UNMARKED_GRACE_MS) {
        continue;
      }
      await this.#s3.abort(upload.key, upload.uploadId);
      if (marked !== undefined) await this.#s3.deleteMarker(marked.key);
      removed.push(`s3://${this.bucket}/${upload.key} (upload ${upload.uploadId})`);
    }
    for (const marked of markers.values()) {
      // A marker whose upload is gone (completed or aborted by a crashed owner).
      if (!marked.upload && !await this.#liveness.isAlive(marked.holder)) {
        await this.#s3.deleteMarker(marked.key);
      }
    }
    return removed;
  }

  /**
   * Aborts the multipart uploads on clients' keys that nobody live holds,
   * begun more than `olderThanMs` ago (see the module's rule), from where
   * the last call stopped: at most {@linkcode SWEEP_LOOK_AT} uploads looked
   * at and {@linkcode SWEEP_REMOVE} aborted per call.
   */
  async sweepStaged(rule: StagedSweepRule): Promise<string[]> {
    const now = Date.now();
    this.#held.prune(rule.olderThanMs, now);
    const marks = new Map<string, StagingMarker[]>();
    for (const marker of await this.#s3.allMarkers()) {
      marks.set(marker.uploadId, [...marks.get(marker.uploadId) ?? [], marker]);
    }
    const alive = new Map<string, Promise<boolean>>();
    const isAlive = (holder: string) => {
      if (!alive.has(holder)) alive.set(holder, this.#liveness.isAlive(holder));
      return alive.get(holder)!;
    };
    const removed: string[] = [];
    let looked = 0;
    let after = this.#sweptUpTo;
    sweeping: do {
      const page = await this.#s3.uploadsPage(after);
      after = page.next;
      for (const upload of page.uploads) {
        if (looked >= SWEEP_LOOK_AT || removed.length >= SWEEP_REMOVE) {
          after = { key: upload.key, uploadId: upload.uploadId };
          break sweeping;
        }
        looked++;
        const marked = marks.get(upload.uploadId) ?? [];
        if (!await this.#orphaned(upload, marked, rule, now, isAlive)) continue;
        await this.#s3.abort(upload.key, upload.uploadId);
        for (const marker of marked) await this.#s3.deleteMarker(marker.key);
        removed.push(`s3://${this.bucket}/${upload.key} (upload ${upload.uploadId})`);
      }
    } while (after !== undefined);
    this.#sweptUpTo = after;
    return removed;
  }

  /** Whether the running sweep may abort `upload`, marked by `marked` (the module's rule). */
  async #orphaned(
    upload: UploadInProgress,
    marked: StagingMarker[],
    rule: StagedSweepRule,
    now: number,
    isAlive: (holder: string) => Promise<boolean>,
  ): Promise<boolean> {
    const age = now - upload.initiated;
    if (marked.length === 0) return age > Math.max(rule.olderThanMs, UNMARKED_GRACE_MS);
    for (const marker of marked) {
      const ref = `${marker.token}:${upload.uploadId}`;
      if (rule.isKept(ref)) return false; // a cut upload kept for a resume
      if (marker.holder === this.#liveness.holder) {
        if (this.#held.holds(ref, rule.olderThanMs, now)) return false; // a live upload of ours
      } else if (await isAlive(marker.holder)) {
        return false; // another live instance's: its own sweep judges it
      }
    }
    return age > rule.olderThanMs;
  }

  async delete(location: string): Promise<void> {
    checkKey(location);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: location }));
  }

  async list(clientId: ClientId): Promise<string[]> {
    const prefix = `${clientIdToHex(clientId)}/`;
    return (await this.#s3.listKeys(prefix)).map((key) => key.slice(prefix.length)).sort();
  }

  /** `s3://<bucket>/<location>`. */
  describe(location: string): string {
    return `s3://${this.bucket}/${location}`;
  }

  async openRead(location: string, offset: number): Promise<StoredFileReader | undefined> {
    checkKey(location);
    let output;
    try {
      output = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: location,
          ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}),
        }),
      );
    } catch (error) {
      if (isMissing(error)) return undefined;
      if (statusOf(error) === 416) return await this.#emptyTail(location);
      throw error;
    }
    const length = Number(output.ContentLength ?? 0);
    // "bytes 5-99/100": the whole size after the slash.
    const total = /\/(\d+)$/.exec(output.ContentRange ?? "")?.[1];
    const size = total === undefined ? length : Number(total);
    const body = output.Body?.transformToWebStream();
    return new S3ObjectReader(body?.getReader(), size);
  }

  /** An offset at or past the end (416): a reader of nothing, with the object's size. */
  async #emptyTail(location: string): Promise<StoredFileReader | undefined> {
    const head = await this.#s3.head(location);
    return head === undefined ? undefined : new S3ObjectReader(undefined, head.size);
  }

  close(): Promise<void> {
    this.client.destroy();
    return Promise.resolve();
  }
}
