/**
 * The hashes a transfer decision needs (docs/protocol.md §13.4), in one pass
 * over the file and in constant memory: the SHA-256 and cksum of its first
 * `prefix` bytes (to resume after what the server kept), and the SHA-256 of
 * the whole file (to skip a file the server already holds). Only as much of
 * the file is read as the answers need.
 *
 * @example
 * ```ts
 * import { hashFile } from "./file_hashes.ts";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "123456789");
 * const hashes = await hashFile(path, { size: 9, prefix: 4, whole: true });
 * console.log(hashes.prefix?.cksum.length, hashes.whole?.length); // 4 32
 * await Deno.remove(path);
 * ```
 *
 * @module
 */

import { Cksum, Sha256 } from "../protocol/mod.ts";
import { ConfigError } from "./client_error.ts";

/** Bytes read per piece. */
const PIECE_SIZE = 1024 * 1024;

/** What {@linkcode hashFile} found. */
export interface FileHashes {
  /** The first `prefix` bytes: their SHA-256, and their cksum to continue. */
  prefix?: { sha256: Uint8Array; cksum: Cksum };
  /** The SHA-256 of the whole file. */
  whole?: Uint8Array;
}

/**
 * Hashes the file at `path` of `size` bytes: its first `prefix` bytes (when
 * `prefix` > 0) and the whole (when `whole`).
 *
 * @throws {ConfigError} if the file cannot be read or ends early.
 */
export async function hashFile(
  path: string,
  want: { size: number; prefix: number; whole: boolean },
): Promise<FileHashes> {
  const end = want.whole ? want.size : Math.min(want.prefix, want.size);
  const sha256 = new Sha256();
  const cksum = new Cksum();
  const hashes: FileHashes = {};
  const takePrefix = () => {
    if (want.prefix > 0 && want.prefix <= want.size && sha256.length === want.prefix) {
      hashes.prefix = {
        sha256: sha256.copy().digest(),
        cksum: Cksum.resume(cksum.state, cksum.length),
      };
    }
  };
  try {
    using file = await Deno.open(path, { read: true });
    const buffer = new Uint8Array(PIECE_SIZE);
    takePrefix();
    while (sha256.length < end) {
      // Stop at the prefix's end once, so its state can be taken there.
      const limit = sha256.length < want.prefix ? Math.min(end, want.prefix) : end;
      const n = await file.read(buffer.subarray(0, Math.min(buffer.length, limit - sha256.length)));
      if (n === null) throw new Error("the file got shorter while it was read");
      const piece = buffer.subarray(0, n);
      sha256.update(piece);
      if (cksum.length < want.prefix) cksum.update(piece);
      takePrefix();
    }
  } catch (error) {
    throw new ConfigError({
      action: `read ${path}`,
      reason: (error as Error).message,
      hint: "Check that the file is still there and readable, then run the client again",
    }, { cause: error });
  }
  if (want.whole) hashes.whole = sha256.digest();
  return hashes;
}
