/**
 * Where an upload's plaintext goes while it arrives: a {@linkcode StagedFile}
 * behind a storage-failure latch.
 *
 * A storage failure (disk full, folder unwritable, object storage down) does
 * not end the upload: the staged file is discarded at once, later writes are
 * dropped so the rest of the upload can still be read and the connection
 * stays in step, and {@linkcode UploadStaging.failure} reports it at the end
 * as a {@linkcode StorageError}.
 *
 * @example
 * ```ts
 * import { UploadStaging } from "./upload_staging.ts";
 * import type { FileStore } from "../storage/file_store.ts";
 *
 * async function stage(store: FileStore, bytes: Uint8Array) {
 *   const staging = await UploadStaging.begin(store, new Uint8Array(16), "a.txt");
 *   await staging.write(bytes);
 *   return await staging.seal(); // the sealed StagedFile, or undefined after a failure
 * }
 * ```
 *
 * @module
 */

import type { ClientId } from "../../protocol/mod.ts";
import { isConnectionLost } from "../../common/connection_lost.ts";
import {
  type DiscardReason,
  type FileStore,
  type KeptPrefix,
  type StagedFile,
  StorageError,
} from "../storage/file_store.ts";

/** A staged upload and its storage-failure latch. */
export class UploadStaging {
  readonly #fileName: string;
  #staged: StagedFile | undefined;
  #failure: unknown;
  #failed = false;

  private constructor(fileName: string, staged: StagedFile | undefined, failure: unknown) {
    this.#fileName = fileName;
    this.#staged = staged;
    this.#failure = failure;
    this.#failed = staged === undefined;
  }

  /** Begins staging `fileName`; a failure to begin is latched, not thrown. */
  static async begin(
    store: FileStore,
    clientId: ClientId,
    fileName: string,
  ): Promise<UploadStaging> {
    try {
      return new UploadStaging(fileName, await store.begin(clientId, fileName), undefined);
    } catch (error) {
      return new UploadStaging(fileName, undefined, error);
    }
  }

  /** Goes on staging into `staged`, a kept partial upload reopened for a resume. */
  static over(fileName: string, staged: StagedFile): UploadStaging {
    return new UploadStaging(fileName, staged, undefined);
  }

  /**
   * A cut upload: suspends the staged file, keeping what was written for a
   * resume. `undefined` (nothing kept, and the staged file discarded) after a
   * storage failure, when nothing was kept, or when suspending fails.
   */
  async suspend(): Promise<{ staged: StagedFile; kept: KeptPrefix } | undefined> {
    const staged = this.#staged;
    if (staged === undefined || this.#failed) {
      await this.discard(this.#failed ? "storage_error" : "connection_ended");
      return undefined;
    }
    this.#staged = undefined;
    try {
      const kept = await staged.suspend();
      if (kept.length > 0) return { staged, kept };
    } catch {
      // As a storage failure: nothing kept.
      await staged.discard("storage_error").catch(() => {});
      return undefined;
    }
    await staged.discard("connection_ended").catch(() => {}); // nothing to keep
    return undefined;
  }

  /** Appends plaintext; after a failure, drops it. */
  async write(bytes: Uint8Array): Promise<void> {
    if (this.#staged === undefined) return;
    try {
      await this.#staged.write(bytes);
    } catch (error) {
      await this.#fail(error);
    }
  }

  /** Makes the staged file durable and hands it over; `undefined` after a failure. */
  async seal(): Promise<StagedFile | undefined> {
    const staged = this.#staged;
    if (staged === undefined) return undefined;
    try {
      await staged.seal();
    } catch (error) {
      await this.#fail(error);
      return undefined;
    }
    this.#staged = undefined;
    return staged;
  }

  /**
   * The verdict's consequence: seals and hands over the staged file when
   * `keep`, discards it otherwise.
   *
   * @throws {StorageError} if storing failed at any point (then nothing is kept).
   */
  async keepIf(keep: boolean): Promise<StagedFile | undefined> {
    const staged = keep ? await this.seal() : undefined;
    if (!keep) await this.discard("content_mismatch");
    const failure = this.failure;
    if (failure !== undefined) throw failure;
    return staged;
  }

  /** Drops the staged file (a refused or broken upload, for `why`); never throws. */
  async discard(why: DiscardReason): Promise<void> {
    const staged = this.#staged;
    this.#staged = undefined;
    await staged?.discard(why).catch(() => {});
  }

  /** The storage failure, if one happened, as a {@linkcode StorageError}. */
  get failure(): StorageError | undefined {
    if (!this.#failed) return undefined;
    const cause = this.#failure;
    const reason = cause instanceof Error ? cause.message : String(cause);
    return new StorageError(`Cannot store ${this.#fileName}: ${reason}`, { cause });
  }

  async #fail(error: unknown): Promise<void> {
    this.#failed = true;
    this.#failure ??= error;
    await this.discard("storage_error");
  }
}

/**
 * Why an upload that failed with `error` was dropped: the store failed, its
 * connection ended, or (anything else) a packet broke the protocol.
 */
export function discardReasonOf(error: unknown): DiscardReason {
  if (error instanceof StorageError) return "storage_error";
  if (isConnectionLost(error) || error instanceof Deno.errors.InvalidData) {
    return "connection_ended";
  }
  return "protocol_error";
}
