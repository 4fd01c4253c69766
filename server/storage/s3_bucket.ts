/**
 * The S3 calls of {@linkcode S3FileStore} that several of its parts share:
 * completing and aborting a multipart upload, the staging markers, and the
 * paged listings (parts, uploads in progress, keys under a prefix).
 *
 * | call             | S3                                                               |
 * | ---------------- | ---------------------------------------------------------------- |
 * | `complete`       | CompleteMultipartUpload, then HeadObject checks the token and size |
 * | `abort`          | AbortMultipartUpload (an upload already gone is not an error)    |
 * | `putMarker`      | PutObject `~staging/<holder>/<token>/<upload id, URI-encoded>`   |
 * | `deleteMarker`   | DeleteObject of a marker (best effort)                           |
 * | `head`           | HeadObject: the object's token (metadata `ft-token`) and size    |
 * | `listParts`      | ListParts, every page                                            |
 * | `markers`        | ListObjectsV2 under `~staging/`, by upload id                     |
 * | `allMarkers`     | ListObjectsV2 under `~staging/`, every marker with its upload id  |
 * | `uploads`        | ListMultipartUploads on clients' keys, every page                |
 * | `uploadsPage`    | ListMultipartUploads on clients' keys, one page from a cursor    |
 * | `listKeys`       | ListObjectsV2 under a prefix, every page                         |
 *
 * The staging reference of an upload is `<token>:<upload id>`
 * ({@linkcode parseStagingRef}).
 *
 * @example
 * ```ts ignore
 * const bucket = new S3Bucket(createS3Client(settings), "files");
 * const parts = await bucket.listParts("<client id hex>/a.txt", uploadId);
 * ```
 *
 * @module
 */

import {
  AbortMultipartUploadCommand,
  type CompletedPart,
  CompleteMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";

/** Prefix of the marker objects. */
export const MARKER_PREFIX = "~staging/";
/** Object metadata key holding the staging token. */
export const TOKEN_METADATA = "ft-token";
const CLIENT_FOLDER = /^[0-9a-f]{32}$/;

/** A staging marker: which instance holds which upload. */
export interface StagingMarker {
  /** The marker object's key. */
  key: string;
  /** The instance that holds the upload. */
  holder: string;
  /** The upload's staging token. */
  token: string;
  /** Whether a multipart upload in progress was found for it. */
  upload: boolean;
}

/** A multipart upload in progress on a client's key. */
export interface UploadInProgress {
  /** The object key. */
  key: string;
  /** The multipart upload id. */
  uploadId: string;
  /** When it was created, in ms since the epoch (0 when not given). */
  initiated: number;
}

/** Where a listing of uploads in progress goes on: after this key and upload id. */
export interface UploadsCursor {
  /** The last key listed. */
  key: string;
  /** The last upload id listed on it. */
  uploadId: string;
}

/**
 * Splits a staging reference `<token>:<upload id>`.
 *
 * @throws {RangeError} when it is not one.
 */
export function parseStagingRef(ref: string): { token: string; uploadId: string } {
  const colon = ref.indexOf(":");
  const token = ref.slice(0, colon);
  if (colon < 0 || !/^[0-9a-f]{32}$/.test(token) || colon === ref.length - 1) {
    throw new RangeError(`Cannot use staging reference ${JSON.stringify(ref)}: not <token>:<id>`);
  }
  return { token, uploadId: ref.slice(colon + 1) };
}

/** The HTTP status of an S3 client's error, if it has one. */
export function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

/** Whether an S3 client's error says the object or upload is not there. */
export function isMissing(error: unknown): boolean {
  const name = (error as { name?: string })?.name ?? "";
  return statusOf(error) === 404 || ["NoSuchUpload", "NoSuchKey", "NotFound"].includes(name);
}

/** One bucket, through one S3 client. */
export class S3Bucket {
  /** The S3 client. */
  readonly client: S3Client;
  /** The bucket's name. */
  readonly name: string;

  /**
   * Uses `name` through `client`.
   *
   * @param client The S3 client.
   * @param name The bucket; it must exist.
   */
  constructor(client: S3Client, name: string) {
    this.client = client;
    this.name = name;
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
        Bucket: this.name,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts.map(({ PartNumber, ETag }) => ({ PartNumber, ETag })) },
      }),
    );
    const head = await this.head(key);
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
        new AbortMultipartUploadCommand({ Bucket: this.name, Key: key, UploadId: uploadId }),
      );
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  /** Writes the marker saying `holder` holds the upload; returns its key. */
  async putMarker(holder: string, token: string, uploadId: string, key: string): Promise<string> {
    const marker = `${MARKER_PREFIX}${holder}/${token}/${encodeURIComponent(uploadId)}`;
    const body = new TextEncoder().encode(key);
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.name,
        Key: marker,
        Body: body,
        ContentLength: body.length,
      }),
    );
    return marker;
  }

  /** Deletes a marker object (best effort: a stray marker is only cleaned up later). */
  async deleteMarker(marker: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.name, Key: marker }))
      .catch(() => {});
  }

  /** The object's staging token and size, or `undefined` when there is none. */
  async head(key: string): Promise<{ token: string | undefined; size: number } | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.name, Key: key }));
      return { token: head.Metadata?.[TOKEN_METADATA], size: Number(head.ContentLength ?? -1) };
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw error;
    }
  }

  /** The parts uploaded so far, or `undefined` when the upload is gone. */
  async listParts(key: string, uploadId: string): Promise<CompletedPart[] | undefined> {
    const parts: CompletedPart[] = [];
    let marker: string | undefined;
    try {
      do {
        const page = await this.client.send(
          new ListPartsCommand({
            Bucket: this.name,
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

  /** The marker objects, by upload id (one of them where an upload has several). */
  async markers(): Promise<Map<string, StagingMarker>> {
    const markers = new Map<string, StagingMarker>();
    for (const marker of await this.allMarkers()) markers.set(marker.uploadId, marker);
    return markers;
  }

  /**
   * Every marker object, with its upload id: an upload has several for a
   * moment while another instance takes it over (a resume marks it before
   * the old marker goes).
   */
  async allMarkers(): Promise<Array<StagingMarker & { uploadId: string }>> {
    const markers: Array<StagingMarker & { uploadId: string }> = [];
    for (const key of await this.listKeys(MARKER_PREFIX)) {
      const [holder, token, encoded, ...rest] = key.slice(MARKER_PREFIX.length).split("/");
      if (holder === undefined || token === undefined || encoded === undefined || rest.length > 0) {
        continue;
      }
      try {
        markers.push({ key, holder, token, upload: false, uploadId: decodeURIComponent(encoded) });
      } catch {
        // Not one of ours.
      }
    }
    return markers;
  }

  /** Every multipart upload in progress in the bucket on a client's key. */
  async uploads(): Promise<UploadInProgress[]> {
    const uploads: UploadInProgress[] = [];
    let after: UploadsCursor | undefined;
    do {
      const page = await this.uploadsPage(after);
      uploads.push(...page.uploads);
      after = page.next;
    } while (after !== undefined);
    return uploads;
  }

  /**
   * One page (up to 1000) of the multipart uploads in progress on clients'
   * keys, from `after` (the start when absent), and where the next begins
   * (`undefined` after the last).
   */
  async uploadsPage(
    after?: UploadsCursor,
  ): Promise<{ uploads: UploadInProgress[]; next: UploadsCursor | undefined }> {
    const page = await this.client.send(
      new ListMultipartUploadsCommand({
        Bucket: this.name,
        ...(after === undefined ? {} : { KeyMarker: after.key }),
        ...(after === undefined || after.uploadId === "" ? {} : { UploadIdMarker: after.uploadId }),
      }),
    );
    const uploads: UploadInProgress[] = [];
    for (const upload of page.Uploads ?? []) {
      if (upload.Key === undefined || upload.UploadId === undefined) continue;
      if (!CLIENT_FOLDER.test(upload.Key.slice(0, 32)) || upload.Key[32] !== "/") continue;
      uploads.push({
        key: upload.Key,
        uploadId: upload.UploadId,
        initiated: upload.Initiated?.getTime() ?? 0,
      });
    }
    const next = page.IsTruncated && page.NextKeyMarker !== undefined
      ? { key: page.NextKeyMarker, uploadId: page.NextUploadIdMarker ?? "" }
      : undefined;
    return { uploads, next };
  }

  /** Every key under `prefix`. */
  async listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.name,
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
}
