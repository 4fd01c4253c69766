/**
 * The files the benchmarks upload: random bytes, no two megabytes alike, so
 * neither the page cache nor any compression along the way flatters a run.
 *
 * @module
 */

import { writeAll } from "../../common/write_all.ts";

const MB = 1_000_000;

/** Writes `size` bytes of random data to `path`, 1 MB at a time. */
export async function writeRandomFile(path: string, size: number): Promise<void> {
  const block = new Uint8Array(MB);
  for (let offset = 0; offset < MB; offset += 65_536) {
    crypto.getRandomValues(block.subarray(offset, offset + 65_536));
  }
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  for (let written = 0; written < size; written += MB) {
    block[0] = written / MB; // no two megabytes alike
    await writeAll(file, block.subarray(0, Math.min(MB, size - written)));
  }
}
