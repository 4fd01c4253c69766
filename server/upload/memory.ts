/**
 * Keeping resident memory flat during uploads.
 *
 * The big buffers of an upload are reused or released at once
 * (`common/release_buffer.ts`), but every batch still leaves small garbage
 * behind (promises, views, WebCrypto's bookkeeping) that V8 collects late,
 * which at hundreds of MB/s shows as some 30 MB of extra resident memory. A
 * young-generation collection every few batches frees it and costs well
 * under a millisecond, but JavaScript can only ask for one when the runtime
 * exposes `gc`: the server is run with `--v8-flags=--expose-gc` (see the
 * `server` task, which the compiled server copies). Without the flag this
 * does nothing, and memory is just reclaimed later.
 *
 * @module
 */

type Gc = (options: { type: "minor" | "major" }) => void;

const gc: Gc | undefined = (globalThis as { gc?: Gc }).gc;

/** Whether the runtime exposes `gc`, so {@linkcode collectYoungGarbage} does something. */
export const canCollectGarbage: boolean = typeof gc === "function";

/** Runs a young-generation collection if the runtime allows it. */
export function collectYoungGarbage(): void {
  gc?.({ type: "minor" });
}
