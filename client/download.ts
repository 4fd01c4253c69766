/**
 * One file fetched into a local folder (`client --get`): streamed to a
 * temporary file, verified, then put in place.
 *
 * | step | what |
 * |------|------|
 * | 1 | the name is checked by the stored-path rules (no `..`, no absolute path, ...), and maps to `DIR/<its folders>/<its name>`; an existing file there stops it unless `--force` |
 * | 2 | a part left by a cut download of this name (`.ft-<16 hex>.part`, and its `.json` naming the file's SHA-256) is offered to the server as the offset to continue from |
 * | 3 | the server starts there when it still holds that very file, else at 0 (the part is emptied) |
 * | 4 | every byte is written to the part (0600), and hashed: SHA-256 and cksum, the part's earlier bytes read back first, in constant memory |
 * | 5 | the size, cksum and SHA-256 must be the server's: else the part is deleted and nothing is placed (exit 5) |
 * | 6 | the part is synced and takes the file's name: a hard link that fails if the name exists meanwhile (no overwrite without `--force`), or a rename with `--force` |
 *
 * A download cut anywhere before step 6 leaves the part and its `.json`:
 * the next run continues it. The temporary names are fixed-length (a hash of
 * the file's path), so a 255-byte name still has room.
 *
 * @module
 */

import { exists } from "../common/exists.ts";
import { dirname, join } from "node:path";
import {
  bytesEqual,
  Cksum,
  type FileHeader,
  filePathProblem,
  NO_SHA256,
  Sha256,
  sha256Hex,
} from "../protocol/mod.ts";
import { writeAll } from "../common/write_all.ts";
import { ConfigError, CrcError } from "./client_error.ts";
import type { ContentSink, RetrievalClient } from "./retrieval_client.ts";

/** Where and how to fetch. */
export interface DownloadOptions {
  /** The folder the files go into (`--to`, else where the command was typed). */
  dir: string;
  /** `--force`: replace an existing local file. */
  force: boolean;
  /** Bytes of the file held so far (the part included), and its size. */
  onProgress?: (received: number, size: number) => void;
}

/** A file fetched and verified. */
export interface Downloaded {
  /** The name as the server holds it. */
  name: string;
  /** Where it was written. */
  path: string;
  /** Its size. */
  size: number;
  /** Its SHA-256 in hexadecimal, or `null` when the server recorded none (cksum only). */
  sha256: string | null;
  /** Where this run started: > 0 when it continued a cut download. */
  resumedAt: number;
}

/** What the `.json` beside a part records: which file the part is the start of. */
interface PartInfo {
  name: string;
  sha256: string | null;
  size: number;
}

/**
 * A local file could not be written or read (permissions, a file where a
 * folder must be, a full disk): exit code 2. `midStream` says whether it
 * happened while the server was sending, which leaves the connection unfit
 * for the next file.
 */
export class LocalFileError extends ConfigError {
  /** Whether the server was sending the file's content when it happened. */
  readonly midStream: boolean;

  /**
   * Creates the error.
   *
   * @param path The local path.
   * @param name The file being fetched.
   * @param cause The file system's error.
   * @param midStream Whether the server was sending meanwhile.
   */
  constructor(path: string, name: string, cause: unknown, midStream: boolean) {
    super({
      action: `get ${name}`,
      reason: `${path} cannot be written (${cause instanceof Error ? cause.message : cause})`,
      hint:
        "Check that folder's permissions and free space, or fetch into another folder with --to",
    }, { cause });
    this.name = "LocalFileError";
    this.midStream = midStream;
  }
}

/** Runs a local file operation; a file system failure becomes a {@linkcode LocalFileError}. */
async function locally<T>(
  path: string,
  name: string,
  midStream: boolean,
  operation: () => Promise<T>,
): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable || error instanceof ConfigError) throw error;
    if (error instanceof Error && Object.values(Deno.errors).some((c) => error instanceof c)) {
      throw new LocalFileError(path, name, error, midStream);
    }
    throw error;
  }
}

/** How many bytes of a part are read back at a time to hash it. */
const REHASH_CHUNK = 1024 * 1024;

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function fromHex(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/**
 * The local path of a stored name below `dir`.
 *
 * @throws {ConfigError} when the name could not be a stored file's (a path
 * that climbs out, is absolute, has an empty component, ...).
 */
export function localPathOf(dir: string, name: string): string {
  const problem = filePathProblem(name.normalize("NFC"));
  if (problem !== undefined) {
    throw new ConfigError({
      action: `get ${JSON.stringify(name)}`,
      reason: `it is not a name the server can hold (${problem})`,
      hint: "Use a name as client --list shows it",
    });
  }
  return join(dir, ...name.normalize("NFC").split("/"));
}

/** The part and its `.json` for `name` in `folder`. */
function partPaths(folder: string, name: string): { part: string; info: string } {
  const key = sha256Hex(new TextEncoder().encode(name.normalize("NFC"))).slice(0, 16);
  return { part: join(folder, `.ft-${key}.part`), info: join(folder, `.ft-${key}.part.json`) };
}

async function removeIfThere(path: string): Promise<void> {
  await Deno.remove(path).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
}

/** The part a cut download left, if it is one of `name`: its length and its file's SHA-256. */
async function heldPart(
  paths: { part: string; info: string },
  name: string,
): Promise<{ offset: number; sha256: Uint8Array } | undefined> {
  try {
    const info = JSON.parse(await Deno.readTextFile(paths.info)) as PartInfo;
    const { size } = await Deno.stat(paths.part);
    if (info.name !== name.normalize("NFC") || size > info.size) return undefined;
    const sha256 = typeof info.sha256 === "string" && /^[0-9a-f]{64}$/.test(info.sha256)
      ? fromHex(info.sha256)
      : NO_SHA256;
    return { offset: size, sha256 };
  } catch {
    return undefined; // none, or unreadable: start over
  }
}

/** Writes the content into the part and hashes it, earlier bytes included. */
class PartWriter implements ContentSink {
  readonly #paths: { part: string; info: string };
  readonly #name: string;
  readonly #onProgress: ((received: number, size: number) => void) | undefined;
  readonly sha256 = new Sha256();
  readonly cksum = new Cksum();
  file: Deno.FsFile | undefined;
  header: FileHeader | undefined;
  received = 0;

  constructor(
    paths: { part: string; info: string },
    name: string,
    onProgress: ((received: number, size: number) => void) | undefined,
  ) {
    this.#paths = paths;
    this.#name = name;
    this.#onProgress = onProgress;
  }

  async begin(header: FileHeader): Promise<void> {
    await locally(this.#paths.part, this.#name, true, () => this.#begin(header));
  }

  async #begin(header: FileHeader): Promise<void> {
    this.header = header;
    const info: PartInfo = {
      name: this.#name.normalize("NFC"),
      sha256: header.sha256 === null ? null : toHex(header.sha256),
      size: header.size,
    };
    await Deno.writeTextFile(this.#paths.info, JSON.stringify(info) + "\n", { mode: 0o600 });
    const file = await Deno.open(this.#paths.part, { read: true, write: true, create: true });
    this.file = file;
    if (Deno.build.os !== "windows") await Deno.chmod(this.#paths.part, 0o600);
    await file.truncate(header.start);
    await this.#rehash(file, header.start);
    await file.seek(header.start, Deno.SeekMode.Start);
    this.received = header.start;
    this.#onProgress?.(this.received, header.size);
  }

  /** Feeds the part's first `length` bytes (a continued download) to the hashes. */
  async #rehash(file: Deno.FsFile, length: number): Promise<void> {
    if (length === 0) return;
    await file.seek(0, Deno.SeekMode.Start);
    const buffer = new Uint8Array(Math.min(REHASH_CHUNK, length));
    let left = length;
    while (left > 0) {
      const n = await file.read(buffer.subarray(0, Math.min(buffer.length, left)));
      if (n === null) throw new Error(`Cannot read back ${this.#paths.part}: it ended early`);
      this.sha256.update(buffer.subarray(0, n));
      this.cksum.update(buffer.subarray(0, n));
      left -= n;
    }
  }

  async write(bytes: Uint8Array): Promise<void> {
    await locally(this.#paths.part, this.#name, true, () => writeAll(this.file!, bytes));
    this.sha256.update(bytes);
    this.cksum.update(bytes);
    this.received += bytes.length;
    this.#onProgress?.(this.received, this.header!.size);
  }

  close(): void {
    try {
      this.file?.close();
    } catch { /* already closed */ }
    this.file = undefined;
  }
}

/**
 * Fetches `name` into `options.dir` (see the module documentation).
 *
 * @throws {ConfigError} for a bad name, or a local file in the way without `--force`;
 * {@linkcode LocalFileError} when a local file cannot be written.
 * @throws {CrcError} when what arrived is not the server's file (nothing placed).
 * @throws {ClientError} for the server's refusal, a lost connection, a protocol violation.
 */
export async function downloadFile(
  client: RetrievalClient,
  name: string,
  options: DownloadOptions,
): Promise<Downloaded> {
  const target = localPathOf(options.dir, name);
  const folder = dirname(target);
  await locally(target, name, false, async () => {
    await refuseExisting(target, name, options.force);
    await Deno.mkdir(folder, { recursive: true, mode: 0o700 });
  });
  const paths = partPaths(folder, name);
  const held = await heldPart(paths, name);
  const writer = new PartWriter(paths, name, options.onProgress);
  let header: FileHeader;
  try {
    header = await client.get(name, held?.offset ?? 0, held?.sha256 ?? NO_SHA256, writer);
    await locally(paths.part, name, false, async () => await writer.file?.sync());
  } finally {
    writer.close();
  }
  await verify(writer, header, paths, name);
  await locally(target, name, false, () => place(paths, target, name, options.force));
  return {
    name: header.path,
    path: target,
    size: header.size,
    sha256: header.sha256 === null ? null : toHex(header.sha256),
    resumedAt: header.start,
  };
}

/** A local file of that name stops the download, unless `--force`. */
async function refuseExisting(target: string, name: string, force: boolean): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(target);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (info.isDirectory) {
    throw new ConfigError({
      action: `get ${name}`,
      reason: `${target} is a folder`,
      hint: "Move it away, or fetch into another folder with --to",
    });
  }
  if (!force) {
    throw new ConfigError({
      action: `get ${name}`,
      reason: `${target} already exists`,
      hint: "Add --force to replace it, or fetch into another folder with --to",
    });
  }
}

/** Size, cksum and SHA-256 must be the server's; otherwise the part goes. */
async function verify(
  writer: PartWriter,
  header: FileHeader,
  paths: { part: string; info: string },
  name: string,
): Promise<void> {
  const problems: string[] = [];
  if (writer.received !== header.size) {
    problems.push(`${writer.received} bytes arrived, not ${header.size}`);
  }
  const cksum = writer.cksum.digest();
  if (cksum !== header.cksum) {
    problems.push(`its cksum is ${cksum}, not the server's ${header.cksum}`);
  }
  if (header.sha256 !== null && !bytesEqual(writer.sha256.digest(), header.sha256)) {
    problems.push("its SHA-256 is not the server's");
  }
  if (problems.length === 0) return;
  await removeIfThere(paths.part);
  await removeIfThere(paths.info);
  throw new CrcError({
    action: `get ${name}`,
    reason: `what arrived is not the file the server recorded (${problems.join("; ")}); ` +
      "nothing was written",
    hint: "The file may have been altered on the server's disk: tell its operator, " +
      "then try again",
  });
}

/** Gives the verified part the file's name: never over an existing file without `--force`. */
async function place(
  paths: { part: string; info: string },
  target: string,
  name: string,
  force: boolean,
): Promise<void> {
  if (force) {
    await Deno.rename(paths.part, target);
  } else {
    try {
      await Deno.link(paths.part, target); // fails if the name appeared meanwhile
      await Deno.remove(paths.part);
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) {
        throw new ConfigError({
          action: `get ${name}`,
          reason: `${target} appeared while it was fetched; the fetched copy is kept aside`,
          hint: "Add --force to replace it",
        }, { cause: error });
      }
      if (await exists(target)) throw error;
      await Deno.rename(paths.part, target); // a file system without hard links
    }
  }
  if (Deno.build.os !== "windows") await Deno.chmod(target, 0o600);
  await removeIfThere(paths.info);
}
