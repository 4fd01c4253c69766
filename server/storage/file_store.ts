/**
 * The file store seam: where uploads are staged and stored, whatever keeps
 * them (a local folder by default, see `file_store_local.ts`; S3-compatible
 * object storage for several instances). Every call is async, and the server
 * talks to storage only through {@linkcode FileStore}.
 *
 * An upload is written to a {@linkcode StagedFile}: nothing is visible under
 * its final name until {@linkcode StagedFile.commit}, which the server calls
 * only once the client confirmed the cksum (900) and the registry recorded
 * the intent (see `registry.ts` for the whole commit protocol).
 *
 * | call | local folder | S3 |
 * |---|---|---|
 * | `begin` | temporary file next to the final name | CreateMultipartUpload |
 * | `write` | append | buffer into parts of at least 5 MiB |
 * | `seal` | fsync | upload the last part |
 * | `commit` | rename over the final name | CompleteMultipartUpload |
 * | `discard` | remove the temporary file | AbortMultipartUpload |
 * | `openRead` | open, seek | GetObject (with `Range` from an offset) |
 * | `suspend` (a cut upload, kept to resume) | fsync, keep the temporary file | keep the whole parts sent |
 * | `resume` | reopen for append | ListParts, go on with the next part |
 * | `sweepStaged` (while serving) | remove temporary files nobody holds, unchanged for long | abort multipart uploads nobody live holds, begun long ago |
 *
 * A stored file is read back ({@linkcode FileStore.openRead}) as a stream in
 * constant memory: the caller hands in its buffer, and a continued download
 * starts at an offset without reading what comes before it.
 *
 * @example
 * ```ts
 * import type { FileStore } from "./file_store.ts";
 *
 * async function storeAndKeep(store: FileStore, id: Uint8Array, bytes: Uint8Array) {
 *   const staged = await store.begin(id, "hello.txt");
 *   await staged.write(bytes);
 *   await staged.seal();
 *   await staged.commit();
 *   return staged.location;
 * }
 * ```
 *
 * @module
 */

import type { ClientId } from "../../protocol/mod.ts";
import type { CommitIntent } from "./registry.ts";

/** One upload being staged. */
export interface StagedFile {
  /** The final place: `<client id hex>/<file name>` (an S3 key; a path below the local root). */
  readonly location: string;
  /** The staged copy: a temporary path, or a multipart upload id. */
  readonly stagingRef: string;
  /** Appends bytes. */
  write(bytes: Uint8Array): Promise<void>;
  /** Makes every byte written durable in staging; called before the 1603 of a kept upload. */
  seal(): Promise<void>;
  /** Puts the staged file in its final place, atomically replacing an older one. */
  commit(): Promise<void>;
  /**
   * Drops the staged file; idempotent, and never touches the final place.
   * `why` says why the upload was not stored, for the operator's metrics
   * (`server/observe/metrics.ts`); the store itself ignores it.
   */
  discard(why?: DiscardReason): Promise<void>;
  /**
   * A cut upload: keeps the bytes written so far, durable, for a later resume
   * ({@linkcode FileStore.resume}), instead of discarding them. The store may
   * keep fewer than were written (S3 keeps whole parts only), never more.
   * After this the staged file takes no more calls but `discard`.
   */
  suspend(): Promise<KeptPrefix>;
}

/**
 * Why a staged upload is dropped instead of stored (a bounded set, the
 * `reason` label of `ft_uploads_refused_total`):
 *
 * | reason             | the upload                                                              |
 * | ------------------ | ----------------------------------------------------------------------- |
 * | `content_mismatch` | arrived whole but did not match: cksum or padding, or not the size announced (853) |
 * | `client_retry`     | the client said its cksum differs (901) and will send it again          |
 * | `client_abort`     | the client gave up on it (902)                                          |
 * | `verdict_timeout`  | no verdict came within the verdict deadline                             |
 * | `connection_ended` | its connection ended (cut, closed, shut down) before it was stored and nothing was kept |
 * | `superseded`       | a new upload or sign-in on its connection replaced it before its verdict |
 * | `protocol_error`   | a packet broke the protocol mid-upload                                  |
 * | `storage_error`    | the store failed                                                        |
 */
export type DiscardReason =
  | "content_mismatch"
  | "client_retry"
  | "client_abort"
  | "verdict_timeout"
  | "connection_ended"
  | "superseded"
  | "protocol_error"
  | "storage_error";

/** What {@linkcode StagedFile.suspend} kept: the upload's first `length` bytes. */
export interface KeptPrefix {
  /** Bytes kept. */
  length: number;
  /**
   * Their SHA-256 (hex) and cksum register (`Cksum.state`), for a store that
   * cannot read them back ({@linkcode FileStore.readStaged}); `undefined` for
   * one that can.
   */
  digests?: { sha256: string; crc: number };
}

/** What {@linkcode FileStore.sweepStaged} may remove. */
export interface StagedSweepRule {
  /**
   * Only staged files older than this, in milliseconds: since last written
   * (a folder), or since begun (S3, whose uploads say nothing later).
   */
  olderThanMs: number;
  /** Whether a kept partial upload names `stagingRef` (read before the call: it stays). */
  isKept(stagingRef: string): boolean;
}

/** Most staged files (or uploads) {@linkcode FileStore.sweepStaged} looks at per call. */
export const SWEEP_LOOK_AT = 10_000;
/** Most staged files {@linkcode FileStore.sweepStaged} removes per call. */
export const SWEEP_REMOVE = 100;

/** A stored file open for reading, from an offset to its end. */
export interface StoredFileReader {
  /** The file's whole size, as the store holds it now. */
  readonly size: number;
  /**
   * Reads the next bytes into `buffer` (at most its length); resolves to how
   * many, or `null` at the end of the file.
   */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Releases the file (or the object's connection); safe to call twice. */
  close(): Promise<void>;
}

/** Where uploads are staged and stored. */
export interface FileStore {
  /** Starts staging an upload of `fileName` for `clientId`; nothing is visible under its final name. */
  begin(clientId: ClientId, fileName: string): Promise<StagedFile>;
  /**
   * After a crash, settles what an intent names: "committed" when the staged
   * file reached (or was now moved to) its final place, "discarded" when it
   * is gone and the final place was not touched.
   */
  recover(intent: CommitIntent): Promise<"committed" | "discarded">;
  /**
   * At start-up, removes staged files that no live upload owns; returns
   * what it removed (for the log).
   */
  removeAbandoned(isLive: (stagingRef: string) => boolean | Promise<boolean>): Promise<string[]>;
  /**
   * Counts the staged file `stagingRef` held by a live upload of this
   * process until the returned function is called: a resume, from before it
   * takes the partial upload's record until the reopened staged file holds
   * it ({@linkcode FileStore.resume}) or it gave up, so the running sweep
   * never takes it for an orphan in between.
   */
  holdStaged(stagingRef: string): () => void;
  /**
   * While serving (the running sweep, `staged_sweep.ts`): removes staged
   * files that no live upload owns, older than the rule says, a bounded
   * number per call (a later call goes on where this one stopped); returns
   * what it removed (for the log). Never removes a staged file that a kept
   * partial upload names, that a live upload of this process holds, or
   * (shared storage) that another live instance owns.
   */
  sweepStaged(rule: StagedSweepRule): Promise<string[]>;
  /**
   * Reopens a suspended staged file of `fileName` to append after its first
   * `length` bytes (what was kept); bytes beyond are dropped. `digests` are
   * those {@linkcode StagedFile.suspend} returned, for a store that needs them.
   *
   * @throws if the staged file is gone or holds fewer than `length` bytes.
   */
  resume(
    clientId: ClientId,
    fileName: string,
    stagingRef: string,
    length: number,
    digests?: { sha256: string; crc: number },
  ): Promise<StagedFile>;
  /**
   * The first `length` bytes of a suspended staged file, in pieces, to
   * check a resume against and continue its hashes from; `undefined` when
   * the store cannot read staged bytes back (S3: then
   * {@linkcode KeptPrefix.digests} were recorded).
   */
  readStaged(
    clientId: ClientId,
    fileName: string,
    stagingRef: string,
    length: number,
  ): AsyncIterable<Uint8Array> | undefined;
  /** Drops a suspended staged file of `fileName`; one already gone is not an error. */
  discardStaged(clientId: ClientId, fileName: string, stagingRef: string): Promise<void>;
  /** Deletes a stored file; a missing one is not an error. */
  delete(location: string): Promise<void>;
  /** The names of a client's stored files. */
  list(clientId: ClientId): Promise<string[]>;
  /**
   * Where the file at `location` is, as an operator finds it, for logs and
   * `server files`: a path for a folder, `s3://<bucket>/<key>` for a bucket.
   * Says only where; it does not look.
   */
  describe(location: string): string;
  /**
   * Opens the stored file at `location` (`<client id hex>/<path>`, checked
   * again here) for reading from byte `offset`; `undefined` when the store
   * has no such file. An offset at or past the end reads nothing.
   *
   * @throws {RangeError} if the location is not a valid one.
   */
  openRead(location: string, offset: number): Promise<StoredFileReader | undefined>;
  /** Releases the store's resources. */
  close(): Promise<void>;
}

/**
 * Storing an upload failed on the server's side (disk full, folder
 * unwritable, final name taken by a folder, object storage unreachable): not
 * the client's fault.
 */
export class StorageError extends Error {
  /**
   * Creates the error.
   *
   * @param message `Cannot store <name>: <reason>`.
   * @param options Standard error options; `cause` is the underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StorageError";
  }
}
