/**
 * Cut uploads kept for a resume (issue 20, docs/protocol.md §13.4): what the
 * server answers to a file status (852), how an upload from an offset (853)
 * continues what was kept, how a cut upload is kept, and how old ones expire.
 *
 * | step | what |
 * |---|---|
 * | a secure-port upload is cut | its staged file is suspended (`StagedFile.suspend`) and recorded (`Registry.keepPartial`): path, size, bytes kept, owner |
 * | 852 | the stored file of the path (size, SHA-256) and the kept bytes of an upload of this size, with their SHA-256 |
 * | 853 at an offset | the record is taken (no one else can continue it); the kept bytes are read back (or, on S3, their recorded digests used), their SHA-256 must be the client's, the cksum and SHA-256 go on from them |
 * | 853 at 0 | the record and its staged file are dropped (the client's file is not the one kept) |
 * | 828 of the path (either port, or a dialect's upload) | the record stays while it runs (a refused or abandoned upload loses nothing kept; a cut one on the secure port is kept instead); its commit (900) drops it |
 * | every minute | records older than the time to keep them go, with their staged files |
 *
 * Kept bytes count against the owner's stored bytes (`Usage.partialBytes`),
 * once at every moment: recording them drops the cut upload's reservation in
 * the same transaction, and an upload of the path (853, resuming it or from
 * 0; an 828 on either port) reserves with its reservation standing for
 * them; the 853 then takes them, the 828 drops them when it commits.
 *
 * @example
 * ```ts
 * import { fileStatus } from "./partials.ts";
 * import { LocalFileStore } from "../storage/file_store_local.ts";
 * import { SqliteRegistry } from "../storage/registry_sqlite.ts";
 *
 * const root = await Deno.makeTempDir();
 * const context = {
 *   registry: await SqliteRegistry.open(":memory:"),
 *   store: await LocalFileStore.open(root),
 *   maxFileSize: 1000,
 *   instanceId: "test",
 * };
 * const status = await fileStatus(context, new Uint8Array(16), "a.txt", 5);
 * console.log(status.stored, status.resumable.length); // undefined 0
 * await context.registry.close();
 * await Deno.remove(root, { recursive: true });
 * ```
 *
 * @module
 */

import { Cksum, type ClientId, Sha256 } from "../../protocol/mod.ts";
import type { FileStatus } from "../../protocol/transfers.ts";
import type { FileStore, KeptPrefix, StagedFile } from "../storage/file_store.ts";
import type { PartialUpload, Registry } from "../storage/registry.ts";

/** Default time a cut upload is kept for a resume: 24 hours. */
export const DEFAULT_PARTIAL_TTL_MS = 24 * 60 * 60 * 1000;

/** What the partial uploads need. */
export interface PartialContext {
  /** The registry (records). */
  registry: Registry;
  /** The file store (staged bytes). */
  store: FileStore;
  /** The server's file size limit, told in 852. */
  maxFileSize: number;
  /** This instance, recorded with what it keeps. */
  instanceId: string;
}

/** A resume the server could not agree to: 1607 with this text; the client sends from 0. */
export class ResumeRefusedError extends Error {
  /**
   * Creates the error.
   *
   * @param message `Cannot resume <path>: <reason>`.
   */
  constructor(message: string) {
    super(message);
    this.name = "ResumeRefusedError";
  }
}

const NO_DIGEST = new Uint8Array(32);

function hexToBytes(hex: string): Uint8Array {
  return new Uint8Array(hex.match(/../g)!.map((pair) => parseInt(pair, 16)));
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** The cksum and SHA-256 of what a partial upload kept, read back where the store can. */
async function keptHashes(
  context: PartialContext,
  partial: PartialUpload,
): Promise<{ cksum: Cksum; sha256: Sha256 | undefined; digest: Uint8Array }> {
  const { clientId, fileName, stagingRef, received } = partial;
  const pieces = context.store.readStaged(clientId, fileName, stagingRef, received);
  if (pieces === undefined) {
    if (partial.prefixSha256 === null || partial.prefixCrc === null) {
      throw new ResumeRefusedError(`Cannot resume ${fileName}: what was kept has no digest`);
    }
    return {
      cksum: Cksum.resume(partial.prefixCrc, received),
      sha256: undefined,
      digest: hexToBytes(partial.prefixSha256),
    };
  }
  const cksum = new Cksum();
  const sha256 = new Sha256();
  for await (const piece of pieces) {
    cksum.update(piece);
    sha256.update(piece);
  }
  return { cksum, sha256, digest: sha256.copy().digest() };
}

/** 852: what the server holds of `path` for `clientId`, for a file of `size` bytes. */
export async function fileStatus(
  context: PartialContext,
  clientId: ClientId,
  path: string,
  size: number,
): Promise<FileStatus> {
  const [stored, partial] = await Promise.all([
    context.registry.file(clientId, path),
    context.registry.partial(clientId, path),
  ]);
  const status: FileStatus = {
    maxFileSize: context.maxFileSize,
    resumable: { length: 0, sha256: NO_DIGEST },
  };
  if (stored !== undefined) {
    status.stored = {
      size: stored.size,
      sha256: stored.sha256 === null ? undefined : hexToBytes(stored.sha256),
    };
  }
  if (partial !== undefined && partial.size === size && partial.received <= size) {
    try {
      const { digest } = await keptHashes(context, partial);
      status.resumable = { length: partial.received, sha256: digest };
    } catch {
      // Its staged bytes are gone or unreadable: nothing to resume (it expires).
    }
  }
  return status;
}

/** What an 853 continues from: the reopened staged file and the hashes of its kept bytes. */
export interface Resumed {
  /** The staged file, positioned after the kept bytes. */
  staged: StagedFile;
  /** The bytes kept, where the packets start. */
  offset: number;
  /** The cksum of the kept bytes, to go on with. */
  cksum: Cksum;
  /** Their SHA-256, to go on with; `undefined` where the store cannot read them back. */
  sha256: Sha256 | undefined;
}

/**
 * 853: takes the partial upload of `path` (so no other connection continues
 * it). At offset 0 it is dropped and `undefined` returned (a new upload);
 * otherwise it must be `offset` bytes of a file of `size`, and their SHA-256
 * the client's.
 *
 * @throws {ResumeRefusedError} when they do not agree (what was kept is then
 * dropped: the client sends the file whole).
 */
export async function takeForResume(
  context: PartialContext,
  clientId: ClientId,
  request: { path: string; size: number; offset: number; prefixSha256: Uint8Array },
): Promise<Resumed | undefined> {
  // Held before its record is taken, until the resumed staged file holds it: the sweep of
  // staged files never sees it neither kept nor held (see `storage/staged_sweep.ts`).
  const seen = await context.registry.partial(clientId, request.path);
  const releases = seen === undefined ? [] : [context.store.holdStaged(seen.stagingRef)];
  try {
    return await takeHeld(context, clientId, request, releases);
  } finally {
    for (const release of releases) release();
  }
}

/** {@linkcode takeForResume}, the staged file held; what it holds besides goes in `releases`. */
async function takeHeld(
  context: PartialContext,
  clientId: ClientId,
  request: { path: string; size: number; offset: number; prefixSha256: Uint8Array },
  releases: Array<() => void>,
): Promise<Resumed | undefined> {
  const { path, size, offset } = request;
  const partial = await context.registry.takePartial(clientId, path);
  if (partial !== undefined) releases.push(context.store.holdStaged(partial.stagingRef));
  if (offset === 0) {
    if (partial !== undefined) await dropStaged(context, partial);
    return undefined;
  }
  if (partial === undefined || partial.size !== size || partial.received !== offset) {
    if (partial !== undefined) await dropStaged(context, partial);
    throw new ResumeRefusedError(
      `Cannot resume ${path}: the server keeps no ${offset} bytes of a file of ${size}; ` +
        "send it whole",
    );
  }
  try {
    const hashes = await keptHashes(context, partial);
    if (!sameBytes(hashes.digest, request.prefixSha256)) {
      throw new ResumeRefusedError(
        `Cannot resume ${path}: the ${offset} bytes kept are not the start of this file; ` +
          "send it whole",
      );
    }
    const digests = partial.prefixSha256 === null || partial.prefixCrc === null
      ? undefined
      : { sha256: partial.prefixSha256, crc: partial.prefixCrc };
    const staged = await context.store.resume(clientId, path, partial.stagingRef, offset, digests);
    return { staged, offset, cksum: hashes.cksum, sha256: hashes.sha256 };
  } catch (error) {
    await dropStaged(context, partial);
    if (error instanceof ResumeRefusedError) throw error;
    throw new ResumeRefusedError(
      `Cannot resume ${path}: what was kept cannot be read (${(error as Error).message}); ` +
        "send it whole",
    );
  }
}

/** A new upload of `path` from the start: what was kept of an earlier one goes. */
export async function dropPartial(
  context: PartialContext,
  clientId: ClientId,
  path: string,
): Promise<void> {
  const partial = await context.registry.takePartial(clientId, path);
  if (partial !== undefined) await dropStaged(context, partial);
}

/**
 * Records a cut upload's kept bytes; the staged file of an earlier record of
 * the path, if any, is dropped. The cut upload's reservation (`releasing`)
 * goes in the same step, so its bytes are never counted twice.
 */
export async function keepCut(
  context: PartialContext,
  clientId: ClientId,
  cut: { fileName: string; size: number; staged: StagedFile; kept: KeptPrefix },
  releasing?: string,
): Promise<void> {
  const replaced = await context.registry.keepPartial({
    clientId,
    fileName: cut.fileName,
    stagingRef: cut.staged.stagingRef,
    size: cut.size,
    received: cut.kept.length,
    prefixSha256: cut.kept.digests?.sha256 ?? null,
    prefixCrc: cut.kept.digests?.crc ?? null,
    instanceId: context.instanceId,
    keptAt: Date.now(),
  }, releasing);
  if (replaced !== undefined) {
    await context.store.discardStaged(clientId, cut.fileName, replaced).catch(() => {});
  }
}

/**
 * Drops the partial uploads kept longer than `ttlMs`, with their staged
 * bytes; returns them (for the log).
 */
export async function expirePartials(
  context: Pick<PartialContext, "registry" | "store">,
  ttlMs: number,
  now: number = Date.now(),
): Promise<PartialUpload[]> {
  const expired: PartialUpload[] = [];
  for (const partial of await context.registry.listPartials()) {
    if (now - partial.keptAt < ttlMs) continue;
    const taken = await context.registry.takePartial(partial.clientId, partial.fileName);
    if (taken === undefined || taken.stagingRef !== partial.stagingRef) {
      // Resumed or replaced meanwhile: whoever took it owns it now.
      if (taken !== undefined) await context.registry.keepPartial(taken);
      continue;
    }
    await dropStaged(context, taken);
    expired.push(taken);
  }
  return expired;
}

async function dropStaged(
  context: Pick<PartialContext, "store">,
  partial: PartialUpload,
): Promise<void> {
  await context.store.discardStaged(partial.clientId, partial.fileName, partial.stagingRef)
    .catch(() => {});
}
