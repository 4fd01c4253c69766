/**
 * The secure port's side of the key proof (`protocol/key_proof.ts`): after
 * each AES key the server sends (1602 or 1605), the connection owes a proof
 * that the client could unwrap it, and nothing that acts under the client's
 * identity (an upload, a verdict) is accepted until the proof arrived.
 *
 * | event                                 | state afterwards                  |
 * |---------------------------------------|-----------------------------------|
 * | 1602 or 1605 sent ({@linkcode KeyProofGate.challenge}) | proof due, not proven |
 * | 851 with the right proof              | proven                            |
 * | 851 with a wrong proof, or none due   | refused (the session closes)      |
 *
 * @example
 * ```ts
 * import { KeyProofGate } from "./tls_proof.ts";
 * import { computeKeyProof } from "../../protocol/key_proof.ts";
 * const fingerprint = new Uint8Array(32);
 * const gate = new KeyProofGate(fingerprint);
 * const key = crypto.getRandomValues(new Uint8Array(32));
 * await gate.challenge(key);
 * console.assert(!gate.proven);
 * console.assert(gate.check(await computeKeyProof(key, fingerprint)));
 * console.assert(gate.proven);
 * ```
 *
 * @module
 */

import { computeKeyProof, keyProofsEqual } from "../../protocol/key_proof.ts";

/** One connection's proof state on the secure port. */
export class KeyProofGate {
  readonly #fingerprint: Uint8Array;
  #state:
    | { kind: "none" }
    | { kind: "due"; expected: Uint8Array }
    | { kind: "proven" } = { kind: "none" };

  /**
   * Creates the gate for a connection to the server whose certificate has
   * `fingerprint`.
   */
  constructor(fingerprint: Uint8Array) {
    this.#fingerprint = fingerprint;
  }

  /**
   * Records that the AES key `rawKey` was just sent: a proof for it is due,
   * and an earlier proof no longer counts.
   */
  async challenge(rawKey: Uint8Array): Promise<void> {
    this.#state = { kind: "none" };
    this.#state = { kind: "due", expected: await computeKeyProof(rawKey, this.#fingerprint) };
  }

  /** Whether a proof is due (a key was sent and not yet proven). */
  get due(): boolean {
    return this.#state.kind === "due";
  }

  /** Whether the client proved it holds the private key for the last key sent. */
  get proven(): boolean {
    return this.#state.kind === "proven";
  }

  /**
   * Checks a proof against the one due. A proof counts once: after a wrong
   * one, nothing is due any more (the session closes anyway).
   *
   * @returns Whether it matched.
   */
  check(proof: Uint8Array): boolean {
    const state = this.#state;
    const right = state.kind === "due" && keyProofsEqual(state.expected, proof);
    this.#state = right ? { kind: "proven" } : { kind: "none" };
    return right;
  }
}
