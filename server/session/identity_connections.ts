/**
 * How many connections each client identity holds signed in, with a cap:
 * signing in is free once a name is registered, so without a cap one
 * identity could sign in on every slot and keep it (issue 17). A sign-in
 * past the cap is refused (1607, and the connection closes).
 *
 * @example
 * ```ts
 * import { IdentityConnections } from "./identity_connections.ts";
 *
 * const identities = new IdentityConnections(1);
 * const first = {}, second = {};
 * console.assert(identities.take("c0ffee", first));
 * console.assert(!identities.take("c0ffee", second));
 * identities.release("c0ffee", first);
 * console.assert(identities.take("c0ffee", second));
 * ```
 *
 * @module
 */

/** Default most connections signed in under one client identity. */
export const DEFAULT_MAX_PER_IDENTITY = 4;

/** The connections signed in under each identity (by client id, hex). */
export class IdentityConnections {
  readonly #max: number;
  readonly #held = new Map<string, Set<object>>();

  /**
   * @param max Most connections per identity, at least 1.
   * @throws {RangeError} if `max` is below 1.
   */
  constructor(max: number) {
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError(`Cannot cap connections per identity: ${max} is below 1`);
    }
    this.#max = max;
  }

  /** The cap. */
  get max(): number {
    return this.#max;
  }

  /** Connections signed in as `clientId`. */
  count(clientId: string): number {
    return this.#held.get(clientId)?.size ?? 0;
  }

  /** Counts `connection` as signed in as `clientId`; `false` when the cap is reached. */
  take(clientId: string, connection: object): boolean {
    const held = this.#held.get(clientId) ?? new Set();
    if (held.has(connection)) return true;
    if (held.size >= this.#max) return false;
    held.add(connection);
    this.#held.set(clientId, held);
    return true;
  }

  /** Stops counting `connection` under `clientId`. */
  release(clientId: string, connection: object): void {
    const held = this.#held.get(clientId);
    if (held === undefined) return;
    held.delete(connection);
    if (held.size === 0) this.#held.delete(clientId);
  }
}
