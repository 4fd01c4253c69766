/**
 * The client launcher the tests use (`harness/client_process.ts`, shared with
 * the benchmarks), and the deterministic file contents they send.
 *
 * @module
 */

export {
  CLIENT_MAIN,
  type ClientRun,
  runClient,
  writeTransferInfo,
} from "../../harness/client_process.ts";

/** Deterministic pseudo-random bytes. */
export function patternBytes(size: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}
