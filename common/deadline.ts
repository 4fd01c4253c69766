/**
 * A time limit on one promise (a read, a write, a whole request): it settles
 * as the operation does, or fails with `Deno.errors.TimedOut` when the limit
 * passes first. The timer is cleared as soon as either happens, and the
 * operation is cancelled through `onExpire` (typically: close the connection,
 * so the pending read or write fails and nothing outlives the deadline).
 *
 * @module
 */

/** What {@linkcode withDeadline} does when the limit passes. */
export interface DeadlineOptions {
  /**
   * Called once when the limit passes, before the returned promise rejects:
   * cancel the operation here (close its connection). A late rejection of the
   * operation is then swallowed.
   */
  onExpire?: () => void;
  /** The message of the `Deno.errors.TimedOut`; says what took too long. */
  message?: string;
}

/**
 * Settles like `operation`, unless `ms` milliseconds pass first: then calls
 * `options.onExpire` and rejects with `Deno.errors.TimedOut`. A limit of 0 or
 * `Infinity` means none.
 *
 * @example
 * ```ts
 * import { withDeadline } from "./deadline.ts";
 *
 * const slow = new Promise<number>((resolve) => setTimeout(() => resolve(1), 50));
 * try {
 *   await withDeadline(slow, 10, { message: "the peer made no progress for 10 ms" });
 * } catch (error) {
 *   console.log(error instanceof Deno.errors.TimedOut); // true
 * }
 * await slow;
 * ```
 */
export function withDeadline<T>(
  operation: Promise<T>,
  ms: number,
  options: DeadlineOptions = {},
): Promise<T> {
  if (ms === 0 || ms === Infinity) return operation;
  if (!(ms > 0)) throw new RangeError(`Cannot set a deadline: ${ms} ms is not a duration`);
  return new Promise<T>((resolve, reject) => {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      operation.catch(() => {}); // cancelled: its own failure no longer matters
      try {
        options.onExpire?.();
      } finally {
        reject(
          new Deno.errors.TimedOut(options.message ?? `Cannot finish in time: ${ms} ms passed`),
        );
      }
    }, ms);
    operation.then(
      (value) => {
        if (expired) return;
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        if (expired) return;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * `promise`'s value, or `undefined` if it has not settled within `ms`
 * milliseconds. Unlike {@linkcode withDeadline} nothing is cancelled: the
 * promise goes on, and may be awaited again (a read kept for later).
 *
 * @example
 * ```ts
 * import { valueWithin } from "./deadline.ts";
 *
 * const slow = new Promise<number>((resolve) => setTimeout(() => resolve(1), 50));
 * console.log(await valueWithin(slow, 10)); // undefined
 * console.log(await valueWithin(slow, 1_000)); // 1
 * ```
 */
export async function valueWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
