/**
 * Helpers for the reliability tests: waiting for a condition with a bound,
 * listing everything under a folder, and a seeded random generator for
 * fuzzing.
 *
 * @module
 */

import { join } from "node:path";
import { withDeadline } from "../../common/deadline.ts";

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `condition` every `intervalMs` until it holds; throws after
 * `timeoutMs` with `what` in the message, so a broken behaviour fails the
 * test instead of hanging it.
 */
export async function waitUntil(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  intervalMs = 20,
): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > end) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await delay(intervalMs);
  }
}

/**
 * Settles like `promise`, or rejects with `Deno.errors.TimedOut` after
 * `timeoutMs` with `what` in the message (the protocol's `withDeadline`).
 */
export function within<T>(what: string, promise: Promise<T>, timeoutMs: number): Promise<T> {
  return withDeadline(promise, timeoutMs, {
    message: `Timed out after ${timeoutMs} ms waiting for ${what}`,
  });
}

/**
 * Every file under `dir`, as paths relative to it, sorted; with
 * `folders: true`, every folder too, as `path/`.
 */
export async function listFiles(
  dir: string,
  options: { folders?: boolean } = {},
): Promise<string[]> {
  const files: string[] = [];
  async function walk(relative: string): Promise<void> {
    for await (const entry of Deno.readDir(join(dir, relative))) {
      const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory) {
        if (options.folders) files.push(`${path}/`);
        await walk(path);
      } else {
        files.push(path);
      }
    }
  }
  await walk("");
  return files.sort();
}

/** The names in `folder`, sorted; none when the folder does not exist. */
export async function listNames(folder: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(folder)) names.push(entry.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return names.sort();
}

/** The temporary upload files (`~upload-*.partial`) under `dir`. */
export async function temporaryFiles(dir: string): Promise<string[]> {
  return (await listFiles(dir)).filter((path) => /~upload-[0-9a-f]{16}\.partial$/.test(path));
}

/** The size of the file at `path`, or 0 if there is none. */
export async function sizeOf(path: string): Promise<number> {
  try {
    return (await Deno.stat(path)).size;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return 0;
    throw error;
  }
}

/** A small seeded pseudo-random generator (xorshift32), for reproducible fuzzing. */
export class SeededRandom {
  #state: number;

  /**
   * Starts the sequence of `seed`.
   *
   * @param seed Any 32-bit number; 0 is replaced by 1.
   */
  constructor(seed: number) {
    this.#state = seed >>> 0 || 1;
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    let x = this.#state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#state = x >>> 0;
    return this.#state;
  }

  /** An integer in `[0, n)`. */
  below(n: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * n);
  }

  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}
