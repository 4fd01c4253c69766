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
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { bytesToHex, Cksum, type ClientId, clientIdToHex, Sha256 } from "../../protocol/mod.ts";
import { StartupError } from "../errors.ts";
import type { FileStore, KeptPrefix, StagedFile, StoredFileReader } from "./file_store.ts";
import type { CommitIntent } from "./registry.ts";
import type { InstanceLiveness } from "./instance_liveness.ts";
import { createS3Client, describeS3Error, type S3Settings } from "./s3_client.ts";
import { parseLocation, storedLocation } from "./stored_path.ts";

/** Size of each part but the last: S3's minimum, 5 MiB. */
export const DEFAULT_PART_SIZE = 5 * 1024 * 1024;
/** An upload without a marker is left alone this long (its owner may be writing the marker). */
export const UNMARKED_GRACE_MS = 10 * 60 * 1000;
/** Prefix of the marker objects. */
export const MARKER_PREFIX = "~staging/";
/** Object metadata key holding the staging token. */
const TOKEN_METADATA = "ft-token";
const CLIENT_FOLDER = /^[0-9a-f]{32}$/;

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

function parseStagingRef(ref: string): { token: string; uploadId: string } {
  const colon = ref.indexOf(":");
  const token = ref.slice(0, colon);
  if (colon < 0 || !/^[0-9a-f]{32}$/.test(token) || colon === ref.length - 1) {
    throw new RangeError(`Cannot use staging reference ${JSON.stringify(ref)}: not <token>:<id>`);
  }
  return { token, uploadId: ref.slice(colon + 1) };
}

function markerKey(holder: string, token: string, uploadId: string): string {
  return `${MARKER_PREFIX}${holder}/${token}/${encodeURIComponent(uploadId)}`;
}

function errorName(error: unknown): string {
  return (error as { name?: string })?.name ?? "";
}

function isMissing(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return status === 404 || ["NoSuchUpload", "NoSuchKey", "NotFound"].includes(errorName(error));
}

/** One upload streaming into a multipart upload. */
class S3StagedFile implements StagedFile {
  readonly location: string;
  readonly stagingRef: string;
  readonly #store: S3FileStore;
  readonly #uploadId: string;
  readonly #token: string;
  readonly #marker: string;
  readonly #partSize: number;
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

  constructor(
    store: S3FileStore,
    location: string,
    token: string,
    uploadId: string,
    marker: string,
    partSize: number,
    resumed?: { parts: CompletedPart[]; kept: KeptPrefix & { digests: { crc: number } } },
  ) {
    this.#store = store;
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
    const sending = this.#store.client.send(
      new UploadPartCommand({
        Bucket: this.#store.bucket,
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
    await this.#store.complete(this.location, this.#uploadId, this.#parts, this.#token, this.#size);
    this.#state = "committed";
    await this.#store.deleteMarker(this.#marker);
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
    return this.#kept;
  }

  async discard(): Promise<void> {
    if (this.#state === "committed" || this.#state === "discarded") return;
    this.#state = "discarded";
    this.#buffer = this.#spare = new Uint8Array(0);
    await this.#inFlight.catch(() => {});
    await this.#store.abort(this.location, this.#uploadId);
    await this.#store.deleteMarker(this.#marker);
  }

  #expect(state: "open" | "sealed" | "suspended", action: string): void {
    if (this.#state !== state) {
      throw new Error(`Cannot ${action}: the staged upload is ${this.#state}`);
    }
  }
}

/** The file store in an S3 bucket. */
export class S3FileStore implements FileStore {
  /** The S3 client (shared by the staged uploads). */
  readonly client: S3Client;
  /** The bucket. */
  readonly bucket: string;
  readonly #liveness: InstanceLiveness;
  readonly #partSize: number;

  private constructor(client: S3Client, options: S3StoreOptions) {
    this.client = client;
    this.bucket = options.bucket;
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
    const marker = markerKey(this.#liveness.holder, token, uploadId);
    const body = new TextEncoder().encode(key);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: marker,
          Body: body,
          ContentLength: body.length,
        }),
      );
    } catch (error) {
      await this.abort(key, uploadId).catch(() => {});
      throw error;
    }
    return new S3StagedFile(this, key, token, uploadId, marker, this.#partSize);
  }

  /**
   * Completes a multipart upload and checks, with HeadObject, that the key
   * now holds it (its token and size).
   */
  async complete(
    key: string,
    uploadId: string,
    parts: CompletedPart[],
    token: string,
    size: number | undefined,
  ): Promise<void> {
    await this.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts.map(({ PartNumber, ETag }) => ({ PartNumber, ETag })) },
      }),
    );
    const head = await this.#head(key);
    if (head?.token !== token || (size !== undefined && head.size !== size)) {
      throw new Error(
        `Cannot commit ${key}: after CompleteMultipartUpload the object is not the upload`,
      );
    }
  }

  /** Aborts a multipart upload; one already gone is not an error. */
  async abort(key: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }),
      );
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  /** Deletes a marker object (best effort: a stray marker is only cleaned up later). */
  async deleteMarker(marker: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: marker }))
      .catch(() => {});
  }

  async #head(key: string): Promise<{ token: string | undefined; size: number } | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { token: head.Metadata?.[TOKEN_METADATA], size: Number(head.ContentLength ?? -1) };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  async #listParts(key: string, uploadId: string): Promise<CompletedPart[] | undefined> {
    const parts: CompletedPart[] = [];
    let marker: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new ListPartsCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            ...(marker === undefined ? {} : { PartNumberMarker: marker }),
          }),
        );
        for (const part of page.Parts ?? []) {
          parts.push({ PartNumber: part.PartNumber, ETag: part.ETag });
        }
        marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
      } while (marker !== undefined);
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
    return parts;
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
    const listed = await this.#listParts(key, uploadId) ?? [];
    const parts = listed.filter((part) => (part.PartNumber ?? 0) <= count)
      .sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    if (parts.length !== count || parts.some((part, i) => part.PartNumber !== i + 1)) {
      throw new RangeError(`Cannot resume ${key}: ${parts.length} of its ${count} parts are there`);
    }
    for (const [id, marked] of await this.#markers()) {
      if (id === uploadId) await this.deleteMarker(marked.key);
    }
    const marker = markerKey(this.#liveness.holder, token, uploadId);
    const body = new TextEncoder().encode(key);
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: marker,
        Body: body,
        ContentLength: body.length,
      }),
    );
    return new S3StagedFile(this, key, token, uploadId, marker, this.#partSize, {
      parts,
      kept: { length, digests },
    });
  }

  /** S3 cannot read the parts of an upload in progress back: the recorded digests stand in. */
  readStaged(): undefined {
    return undefined;
  }

  async discardStaged(clientId: ClientId, fileName: string, stagingRef: string): Promise<void> {
    const key = objectKey(clientId, fileName);
    const { uploadId } = parseStagingRef(stagingRef);
    await this.abort(key, uploadId);
    for (const [id, marked] of await this.#markers()) {
      if (id === uploadId) await this.deleteMarker(marked.key);
    }
  }

  async recover(intent: CommitIntent): Promise<"committed" | "discarded"> {
    checkKey(intent.location);
    const { token, uploadId } = parseStagingRef(intent.stagingRef);
    const head = await this.#head(intent.location);
    if (head?.token === token) return "committed";
    // An intent is recorded only once every part is uploaded (seal): complete it.
    const parts = await this.#listParts(intent.location, uploadId);
    if (parts === undefined || parts.length === 0) return "discarded";
    await this.complete(intent.location, uploadId, parts, token, intent.size);
    return "committed";
  }

  async removeAbandoned(
    isLive: (stagingRef: string) => boolean | Promise<boolean>,
  ): Promise<string[]> {
    const markers = await this.#markers();
    const removed: string[] = [];
    const now = Date.now();
    for (const upload of await this.#uploads()) {
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
      await this.abort(upload.key, upload.uploadId);
      if (marked !== undefined) await this.deleteMarker(marked.key);
      removed.push(`s3://${this.bucket}/${upload.key} (upload ${upload.uploadId})`);
    }
    for (const marked of markers.values()) {
      // A marker whose upload is gone (completed or aborted by a crashed owner).
      if (!marked.upload && !await this.#liveness.isAlive(marked.holder)) {
        await this.deleteMarker(marked.key);
      }
    }
    return removed;
  }

  /** The marker objects, by upload id. */
  async #markers(): Promise<
    Map<string, { key: string; holder: string; token: string; upload: boolean }>
  > {
    const markers = new Map<
      string,
      { key: string; holder: string; token: string; upload: boolean }
    >();
    for (const key of await this.#listKeys(MARKER_PREFIX)) {
      const [holder, token, encoded, ...rest] = key.slice(MARKER_PREFIX.length).split("/");
      if (holder === undefined || token === undefined || encoded === undefined || rest.length > 0) {
        continue;
      }
      try {
        markers.set(decodeURIComponent(encoded), { key, holder, token, upload: false });
      } catch {
        // Not one of ours.
      }
    }
    return markers;
  }

  /** Every multipart upload in progress in the bucket on a client's key. */
  async #uploads(): Promise<Array<{ key: string; uploadId: string; initiated: number }>> {
    const uploads: Array<{ key: string; uploadId: string; initiated: number }> = [];
    let keyMarker: string | undefined;
    let idMarker: string | undefined;
    do {
      const page = await this.client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.bucket,
          ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }),
          ...(idMarker === undefined ? {} : { UploadIdMarker: idMarker }),
        }),
      );
      for (const upload of page.Uploads ?? []) {
        if (upload.Key === undefined || upload.UploadId === undefined) continue;
        if (!CLIENT_FOLDER.test(upload.Key.slice(0, 32)) || upload.Key[32] !== "/") continue;
        uploads.push({
          key: upload.Key,
          uploadId: upload.UploadId,
          initiated: upload.Initiated?.getTime() ?? 0,
        });
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      idMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker !== undefined);
    return uploads;
  }

  async #listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key !== undefined) keys.push(object.Key);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return keys;
  }

  async delete(location: string): Promise<void> {
    checkKey(location);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: location }));
  }

  async list(clientId: ClientId): Promise<string[]> {
    const prefix = `${clientIdToHex(clientId)}/`;
    return (await this.#listKeys(prefix)).map((key) => key.slice(prefix.length)).sort();
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
    const head = await this.#head(location);
    return head === undefined ? undefined : new S3ObjectReader(undefined, head.size);
  }

  close(): Promise<void> {
    this.client.destroy();
    return Promise.resolve();
  }
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** An object's body, read into the caller's buffer as it arrives. */
class S3ObjectReader implements StoredFileReader {
  readonly size: number;
  #body: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #left: Uint8Array = new Uint8Array(0);

  constructor(body: ReadableStreamDefaultReader<Uint8Array> | undefined, size: number) {
    this.#body = body;
    this.size = size;
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#left.length === 0) {
      if (this.#body === undefined) return null;
      const { done, value } = await this.#body.read();
      if (done) {
        this.#body = undefined;
        return null;
      }
      this.#left = value;
    }
    const n = Math.min(buffer.length, this.#left.length);
    buffer.set(this.#left.subarray(0, n));
    this.#left = this.#left.subarray(n);
    return n;
  }

  async close(): Promise<void> {
    const body = this.#body;
    this.#body = undefined;
    this.#left = new Uint8Array(0);
    // Cancelling drops the rest of the object instead of downloading it.
    await body?.cancel().catch(() => {});
  }
}
