/**
 * Keeping resident memory flat during uploads.
 *
 * Every batch of an upload leaves about 2 MiB of dead buffers behind (the
 * decryptor's input copy and its output). V8 only collects them once tens of
 * megabytes of such "external" memory have piled up, which at hundreds of
 * MB/s shows as 60-100 MB of extra resident memory. A young-generation
 * collection after each batch frees them at once and costs well under a
 * millisecond, but JavaScript can only ask for one when the runtime exposes
 * `gc`: the server is run with `--v8-flags=--expose-gc` (see the `server`
 * task). Without the flag these functions still work, memory is just
 * reclaimed later.
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

/**
 * Frees the memory behind `bytes` now instead of at the next collection, by
 * detaching its buffer. `bytes` (and every view of the same buffer) is
 * unusable afterwards.
 */
export function releaseBuffer(bytes: Uint8Array): void {
  const buffer = bytes.buffer;
  if (buffer instanceof ArrayBuffer && !buffer.detached) buffer.transfer(0);
}
