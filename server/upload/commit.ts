/**
 * Committing a confirmed upload, and settling commits a crash interrupted.
 *
 * The steps, in this order (see `registry.ts`), each leaving a state that
 * start-up can settle:
 *
 * | after a crash here                       | the registry has | the store has        | start-up                                  |
 * |------------------------------------------|------------------|----------------------|-------------------------------------------|
 * | before `beginCommit`                     | nothing          | a staged file        | removes the staged file                   |
 * | after `beginCommit`, before `commit`     | an intent        | a staged file        | `recover` moves it in place, then finishes |
 * | after `commit`, before `finishCommit`    | an intent        | the file in place    | `recover` says committed: finishes        |
 * | after `finishCommit`                     | the file row     | the file in place    | nothing to do                             |
 *
 * A commit whose `commit` step fails is abandoned: the intent goes first,
 * then the staged file, so an intent never names a staged file that was
 * discarded.
 *
 * @example
 * ```ts
 * import { recoverCommits } from "./commit.ts";
 * import { LocalFileStore } from "../storage/file_store_local.ts";
 * import { SqliteRegistry } from "../storage/registry_sqlite.ts";
 *
 * const root = await Deno.makeTempDir();
 * const registry = await SqliteRegistry.open(":memory:");
 * const store = await LocalFileStore.open(root);
 * console.log(await recoverCommits(registry, store)); // { committed: [], discarded: [], removed: [] }
 * await registry.close();
 * await Deno.remove(root, { recursive: true });
 * ```
 *
 * @module
 */

import type { ClientId } from "../../protocol/mod.ts";
import { formatBytes } from "../../common/units.ts";
import type { StagedFile } from "../storage/file_store.ts";
import { type FileStore, StorageError } from "../storage/file_store.ts";
import type { FileLimits, Registry } from "../storage/registry.ts";

/** What a commit needs. */
export interface CommitOptions {
  /** The registry. */
  registry: Registry;
  /** The per-client limits. */
  limits: FileLimits;
  /** This server instance. */
  instanceId: string;
  /**
   * The tokens of the reservations this instance's live connections hold
   * (`session/upload_reservation.ts` keeps it), for the running sweep: a
   * reservation of this instance not in it is stale.
   */
  heldReservations?: Set<string>;
}

/** A confirmed upload to commit. */
export interface ConfirmedUpload {
  /** The owner. */
  clientId: ClientId;
  /** The file name. */
  fileName: string;
  /** The sealed staged file. */
  staged: StagedFile;
  /** The file's size. */
  size: number;
  /** The file's cksum. */
  cksum: number;
  /** The file's SHA-256 (64 lowercase hexadecimal digits), recorded with it. */
  sha256: string | null;
}

/** Why a commit was refused by a limit: `files` or `bytes`. */
export type CommitRefusal = "files" | "bytes";

/** The 1607 text for an upload a limit refused. */
export function limitText(fileName: string, limit: CommitRefusal, limits: FileLimits): string {
  return limit === "files"
    ? `Cannot store ${fileName}: you already store the most files allowed (${limits.maxFiles})`
    : `Cannot store ${fileName}: it would take you past the ${
      formatBytes(limits.maxBytes)
    } you may store`;
}

/**
 * The check at an upload's first packet: reserves its declared size against
 * the client's limits under `token` (one per connection; a new one replaces
 * it), counting stored files (a same-name file as replaced), kept partial
 * bytes and every other upload in progress, on every instance. Returns why
 * it does not fit (nothing is then reserved), or `undefined`. The caller
 * releases the reservation (`Registry.release`) when the upload is
 * committed or discarded; the commit checks the limits again.
 */
export async function admission(
  options: CommitOptions,
  token: string,
  clientId: ClientId,
  fileName: string,
  size: number,
  takesPartial = false,
): Promise<string | undefined> {
  const { registry, limits, instanceId } = options;
  const refused = await registry.reserve(
    { token, clientId, fileName, size, instanceId, takesPartial },
    limits,
  );
  return refused === undefined ? undefined : limitText(fileName, refused, limits);
}

/**
 * Puts a confirmed upload in its final place and records it. Returns
 * `undefined` when it is stored, or the limit that refused it (then the
 * staged file is discarded and nothing stored was touched).
 *
 * @throws {StorageError} if the store could not put it in place (the staged
 * file is discarded, the older file of that name, if any, stays).
 */
export async function commitUpload(
  upload: ConfirmedUpload,
  options: CommitOptions,
): Promise<CommitRefusal | undefined> {
  const { registry } = options;
  const { staged } = upload;
  const start = await registry.beginCommit({
    clientId: upload.clientId,
    fileName: upload.fileName,
    location: staged.location,
    stagingRef: staged.stagingRef,
    size: upload.size,
    cksum: upload.cksum,
    sha256: upload.sha256,
    instanceId: options.instanceId,
  }, options.limits);
  if ("refused" in start) {
    await staged.discard();
    return start.refused;
  }
  try {
    await staged.commit();
  } catch (error) {
    await registry.abandonCommit(start.id);
    await staged.discard("storage_error").catch(() => {});
    const reason = error instanceof Error ? error.message : String(error);
    throw new StorageError(`Cannot store ${upload.fileName}: ${reason}`, { cause: error });
  }
  await registry.finishCommit(start.id);
  return undefined;
}

/** What {@linkcode recoverCommits} did, as locations and staging references. */
export interface Recovery {
  /** Commits finished (the file is in place and recorded). */
  committed: string[];
  /** Commits abandoned (nothing reached its final place). */
  discarded: string[];
  /** Staged files no upload owns, removed. */
  removed: string[];
}

/**
 * At start-up, before serving: settles every commit a crash interrupted,
 * then removes staged files that no live upload owns and no kept partial
 * upload names.
 */
export async function recoverCommits(registry: Registry, store: FileStore): Promise<Recovery> {
  const recovery: Recovery = { committed: [], discarded: [], removed: [] };
  // Uploads in progress on an instance that is gone hold nothing any more.
  await registry.dropDeadReservations();
  for (const intent of await registry.pendingCommits()) {
    if (await store.recover(intent) === "committed") {
      await registry.finishCommit(intent.id);
      recovery.committed.push(intent.location);
    } else {
      await registry.abandonCommit(intent.id);
      recovery.discarded.push(intent.location);
    }
  }
  // Cut uploads kept for a resume are not abandoned (see partials.ts).
  const kept = new Set((await registry.listPartials()).map((partial) => partial.stagingRef));
  recovery.removed = await store.removeAbandoned((ref) => kept.has(ref));
  return recovery;
}
