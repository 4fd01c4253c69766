/**
 * The registry seam: what the server remembers about clients and their
 * files, whatever engine keeps it (SQLite by default, see
 * `registry_sqlite.ts`; PostgreSQL for several instances). Every call is
 * async, and the server talks to the registry only through
 * {@linkcode Registry}.
 *
 * A client is recorded only together with its public key (826 on the
 * connection that sent the 825), so a name whose key never came reserves
 * nothing. Name uniqueness is the engine's (a UNIQUE constraint), never a
 * check followed by an insert.
 *
 * A file is recorded by the commit protocol, which keeps the registry and
 * the {@linkcode FileStore} in agreement whatever crashes, and which holds
 * the per-client limits across instances:
 *
 * | step | who | what |
 * |---|---|---|
 * | 1 | {@linkcode Registry.beginCommit} | under a per-(client, file name) lock held until step 3, check the limits (a same-name file counts as replaced) and record the intent |
 * | 2 | `StagedFile.commit` | the staged file takes its final name (rename, CompleteMultipartUpload) |
 * | 3 | {@linkcode Registry.finishCommit} | one transaction: upsert the file row (verified), delete the intent |
 * | 3' | {@linkcode Registry.abandonCommit} | step 2 failed: delete the intent, then discard the staged file |
 *
 * After a crash, each intent left ({@linkcode Registry.pendingCommits}) is
 * settled at start-up by `FileStore.recover`: "committed" means the file is
 * in its final place (finish the commit), "discarded" that it is not (abandon
 * it).
 *
 * @example
 * ```ts
 * import type { Registry } from "./registry.ts";
 *
 * async function isTaken(registry: Registry, name: string): Promise<boolean> {
 *   return (await registry.clientByName(name)) !== undefined;
 * }
 * ```
 *
 * @module
 */

import type { ClientId } from "../../protocol/mod.ts";
import { FAMILIES, type Family } from "../../protocol/dialects/mod.ts";

/** A registered client: one with a public key. */
export interface ClientRecord {
  /** The 16-byte id the server gave it. */
  id: ClientId;
  /** Its unique name. */
  name: string;
  /** Its 160-byte public key (X.509 SubjectPublicKeyInfo DER). */
  publicKey: Uint8Array;
  /** When it registered, in milliseconds since the epoch. */
  registeredAt: number;
  /** When it was last seen, in milliseconds since the epoch. */
  lastSeen: number;
  /**
   * The family of dialects it registered in (`docs/protocol.md` §15): its
   * reconnect is answered in that family, and a client of another family
   * cannot act on it. "A" for every client recorded before dialects were.
   */
  dialect: Family;
}

/**
 * Reads a stored dialect column: one of the families, "A" when empty.
 *
 * @throws {TypeError} for any other value (a damaged row).
 */
export function storedDialect(value: unknown): Family {
  if (value === null || value === undefined || value === "") return "A";
  if ((FAMILIES as readonly unknown[]).includes(value)) return value as Family;
  throw new TypeError(`Cannot read client: dialect ${JSON.stringify(value)} is not a family`);
}

/** A file a client uploaded and confirmed (900). */
export interface FileRecord {
  /** The owner. */
  clientId: ClientId;
  /**
   * The file's path below its client's folder, as stored: a file name, or
   * folders and a name (`photos/cat.jpg`); NFC (see `stored_path.ts`).
   */
  fileName: string;
  /** Where the file store keeps it: `<client id hex>/<file name>`. */
  location: string;
  /** Its size in bytes. */
  size: number;
  /** Its POSIX cksum. */
  cksum: number;
  /**
   * The SHA-256 of its content, 64 lowercase hexadecimal digits, computed
   * while the upload was staged; `null` for a file stored by a version that
   * did not record it.
   */
  sha256: string | null;
  /** Whether the client confirmed the cksum (900); always true for rows written by a commit. */
  verified: boolean;
  /** When it was stored, in milliseconds since the epoch. */
  time: number;
}

/** What one client stores. */
export interface Usage {
  /** Number of stored files. */
  files: number;
  /** Their total size in bytes. */
  bytes: number;
  /**
   * Bytes kept of cut uploads, waiting to be resumed ({@linkcode PartialUpload});
   * they count against the client's `maxBytes` too.
   */
  partialBytes: number;
}

/**
 * What a cut upload left staged, kept for its owner to resume (issue 20,
 * docs/protocol.md §13.4): one per (client, path), until it is resumed, sent
 * whole, committed, or expires.
 */
export interface PartialUpload {
  /** The owner. */
  clientId: ClientId;
  /** The path it is to be stored under. */
  fileName: string;
  /** The staged copy (`StagedFile.stagingRef`). */
  stagingRef: string;
  /** The whole file's size, as the upload announced it. */
  size: number;
  /** Bytes kept, durable in staging: the file's first `received` bytes. */
  received: number;
  /**
   * SHA-256 of the kept bytes (64 hexadecimal digits), when the store cannot
   * read them back (S3); `null` when the store reads them back to check.
   */
  prefixSha256: string | null;
  /** The cksum register (`Cksum.state`) after the kept bytes, with `prefixSha256`; else `null`. */
  prefixCrc: number | null;
  /** The instance that kept it. */
  instanceId: string;
  /** When it was kept (last cut), in milliseconds since the epoch. */
  keptAt: number;
}

/** Per-client limits on what is stored. */
export interface FileLimits {
  /** Most stored files per client. */
  maxFiles: number;
  /** Most stored bytes per client. */
  maxBytes: number;
}

/** Default {@linkcode FileLimits.maxFiles}. */
export const DEFAULT_MAX_FILES = 10_000;
/** Default {@linkcode FileLimits.maxBytes}: 100 GB. */
export const DEFAULT_MAX_BYTES = 100_000_000_000;

/**
 * Written before a staged file is moved to its final place; removed when the
 * file row is written (or the commit abandoned).
 */
export interface CommitIntent {
  /** The owner. */
  clientId: ClientId;
  /** The file name. */
  fileName: string;
  /** The final place (`StagedFile.location`). */
  location: string;
  /** The staged file (`StagedFile.stagingRef`). */
  stagingRef: string;
  /** The file's size in bytes. */
  size: number;
  /** The file's POSIX cksum. */
  cksum: number;
  /**
   * The file's SHA-256 (64 lowercase hexadecimal digits), copied to the file
   * row; `null` only in intents an older version left.
   */
  sha256: string | null;
  /** The server instance that records it (see {@linkcode Registry.pendingCommits}). */
  instanceId: string;
}

/** A recorded {@linkcode CommitIntent} and its id. */
export interface PendingCommit extends CommitIntent {
  /** The id {@linkcode Registry.beginCommit} returned. */
  id: string;
}

/** A page of a client's files, in byte order of their names (see {@linkcode Registry.clientFiles}). */
export interface FilePage {
  /** Only names after this one (in byte order of their UTF-8); from the first when absent. */
  after?: string;
  /** Most rows returned. */
  limit: number;
}

/**
 * An upload's claim on its client's limits, from its first packet until it
 * is committed or discarded (see {@linkcode Registry.reserve}); one per
 * connection, named by the connection's `token`.
 */
export interface Reservation {
  /** The connection's token (a new reservation under it replaces the old one). */
  token: string;
  /** The owner. */
  clientId: ClientId;
  /** The path it is to be stored under (a same-name file counts as replaced). */
  fileName: string;
  /** The declared original size, in bytes. */
  size: number;
  /** The server instance that holds it. */
  instanceId: string;
  /**
   * Whether the upload stands for the path's kept partial upload (853:
   * resumes it, or at offset 0 drops it; 828 on either port and the
   * dialects' uploads: supersede it when they commit): its size then stands
   * for the kept bytes, which are not counted beside it (those past its size
   * still are). Otherwise both count.
   */
  takesPartial?: boolean;
}

/** What {@linkcode Registry.forgetClient} forgot. */
export interface ForgottenClient {
  /** The client. */
  client: ClientRecord;
  /** Its files' rows. */
  files: FileRecord[];
  /** Its kept partial uploads' rows. */
  partials: PartialUpload[];
}

/** What {@linkcode Registry.beginCommit} answers: an intent id, or which limit refused it. */
export type CommitStart = { id: string } | { refused: "files" | "bytes" };

/** The clients and files registry. */
export interface Registry {
  /**
   * Records a client with its key and its family of dialects (default "A").
   * Returns `false`, and changes nothing, when the name (or, improbably,
   * the id) is taken.
   */
  addClient(
    client: { id: ClientId; name: string; publicKey: Uint8Array; dialect?: Family },
  ): Promise<boolean>;
  /** The client called `name`, if any. */
  clientByName(name: string): Promise<ClientRecord | undefined>;
  /** The client with id `id`, if any. */
  clientById(id: ClientId): Promise<ClientRecord | undefined>;
  /** Marks a client seen now. */
  touchClient(id: ClientId): Promise<void>;
  /** What a client stores now (intents not included). */
  usage(clientId: ClientId): Promise<Usage>;
  /** The record of a stored file, if any. */
  file(clientId: ClientId, fileName: string): Promise<FileRecord | undefined>;
  /**
   * One page of a client's own files, ordered by the UTF-8 bytes of their
   * names (the same order in every engine), so a listing of any length is
   * read in pages: the next page starts after the last name of this one.
   */
  clientFiles(clientId: ClientId, page: FilePage): Promise<FileRecord[]>;
  /**
   * Step 1 of a commit: waits for the (client, file name) lock, checks the
   * limits counting a same-name file as replaced and other pending intents
   * as stored, and records the intent. The lock is held until
   * {@linkcode Registry.finishCommit} or {@linkcode Registry.abandonCommit}.
   * A refusal records nothing and releases the lock.
   */
  beginCommit(intent: CommitIntent, limits: FileLimits): Promise<CommitStart>;
  /** Step 3: in one transaction, upserts the verified file row and deletes the intent; releases the lock. */
  finishCommit(id: string): Promise<void>;
  /** Step 3': deletes the intent; releases the lock. */
  abandonCommit(id: string): Promise<void>;
  /** Intents left by a crash (a single server: all of them; call before serving). */
  pendingCommits(): Promise<PendingCommit[]>;
  /**
   * Records what a cut upload kept, replacing the record of that path, if
   * any: returns the staging reference it replaced (the caller discards it).
   * In the same transaction drops the reservation under `releasing` (the cut
   * upload's): its kept bytes count from then on instead, never both.
   */
  keepPartial(partial: PartialUpload, releasing?: string): Promise<string | undefined>;
  /** The partial upload of a path, if any. */
  partial(clientId: ClientId, fileName: string): Promise<PartialUpload | undefined>;
  /**
   * Removes and returns the partial upload of a path, if any: whoever takes
   * it owns its staged copy (resumes or discards it), so two connections
   * never continue one partial upload.
   */
  takePartial(clientId: ClientId, fileName: string): Promise<PartialUpload | undefined>;
  /** Every partial upload (for operators, expiry, start-up and the sweep of staged files), oldest first. */
  listPartials(): Promise<PartialUpload[]>;
  /**
   * Records a reservation only if the client's stored files and bytes, its
   * kept partial bytes, its other reservations and this one fit its limits
   * (a same-name file counts as replaced), atomically across instances.
   * Returns the limit that refused it (then nothing is recorded and any
   * reservation under the same token is gone), or `undefined`.
   *
   * Each byte counts once: with {@linkcode Reservation.takesPartial}, a kept
   * partial upload of the same path is covered by the new reservation (the
   * resume it becomes), and counts again by its own bytes only if the
   * reservation goes while the partial is still kept.
   */
  reserve(reservation: Reservation, limits: FileLimits): Promise<"files" | "bytes" | undefined>;
  /** Drops the reservation under `token`, if any. */
  release(token: string): Promise<void>;
  /**
   * At start-up: drops the reservations of instances that are gone (a single
   * server: all of them). Returns how many went.
   */
  dropDeadReservations(): Promise<number>;
  /**
   * While serving (the running sweep): drops the reservations made before
   * `before` (milliseconds since the epoch) that no live connection holds:
   * those of this instance (`instanceId`) whose token `held` denies (a
   * release that failed), and those of instances that are gone. Another live
   * instance's are left to it. Looks at a bounded number of rows per call;
   * returns how many went.
   */
  dropStaleReservations(
    instanceId: string,
    held: (token: string) => boolean,
    before: number,
  ): Promise<number>;
  /**
   * Every client with what it stores and, as `stagedBytes`, what its uploads
   * in progress reserve (for operators; safe while a server runs).
   */
  listClients(): Promise<Array<ClientRecord & Usage & { stagedBytes: number }>>;
  /** Every stored file, or those of one client (for operators). */
  listFiles(clientName?: string): Promise<Array<FileRecord & { clientName: string }>>;
  /**
   * Forgets a client with everything it held, freeing the name: its file
   * rows, its kept partial uploads and its reservations. Returns the files
   * and partial uploads (the caller may delete the files, and discards the
   * partials' staged copies), or `undefined` for an unknown name.
   */
  forgetClient(name: string): Promise<ForgottenClient | undefined>;
  /**
   * Forgets, in one step, every client last seen (registered, signed in,
   * or uploading) before `seenBefore` (milliseconds since the epoch) that
   * stores no file and has no commit and no reservation (an upload) in
   * progress: its name is free again, and its kept partial uploads go with
   * it (their staged copies are left to the sweep of staged files).
   * Returns the names forgotten. A client with a file is never touched.
   */
  forgetUnusedClients(seenBefore: number): Promise<string[]>;
  /** Closes the registry. Further calls reject. */
  close(): Promise<void>;
}
