/**
 * Which server instances are alive, for start-up clean-up of storage that
 * several instances share: what a dead instance left may go, what a live
 * one is writing must stay. A shared registry knows (see
 * `registry_postgres.ts`); a registry of one instance knows that only this
 * one is.
 *
 * @example
 * ```ts
 * import { soleInstance } from "./instance_liveness.ts";
 * const me = soleInstance();
 * console.log(await me.isAlive(me.holder)); // true
 * ```
 *
 * @module
 */

import { bytesToHex } from "../../protocol/mod.ts";

/** Which server instances are alive. */
export interface InstanceLiveness {
  /** This instance's identity. */
  readonly holder: string;
  /** Whether the instance `holder` is alive. */
  isAlive(holder: string): Promise<boolean>;
}

/** The liveness of an instance that shares its storage with nobody: every other is gone. */
export function soleInstance(): InstanceLiveness {
  const holder = bytesToHex(crypto.getRandomValues(new Uint8Array(8)));
  return { holder, isAlive: (other) => Promise.resolve(other === holder) };
}
