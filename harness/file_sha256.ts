/**
 * The SHA-256 of a file, read in pieces, in hex: how tests and benchmarks
 * check that a stored file is the one sent, in constant memory.
 *
 * @example
 * ```ts
 * import { fileSha256 } from "./file_sha256.ts";
 *
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "abc");
 * console.log(await fileSha256(path)); // ba7816bf...
 * await Deno.remove(path);
 * ```
 *
 * @module
 */

import { Sha256 } from "../protocol/mod.ts";

/** The SHA-256 of the file at `path` in lower-case hex, read 1 MiB at a time. */
export async function fileSha256(path: string): Promise<string> {
  const hash = new Sha256();
  using file = await Deno.open(path);
  const buffer = new Uint8Array(1024 * 1024);
  for (let n = await file.read(buffer); n !== null; n = await file.read(buffer)) {
    hash.update(buffer.subarray(0, n));
  }
  return hash.hex();
}
