/**
 * Which staged files the live uploads of this process hold, for the running
 * sweep of staged files (`staged_sweep.ts`): a file store marks a staged
 * file held from `begin` (or `resume`) until it is committed, discarded or
 * suspended, whatever the outcome (a discard that failed lets go too: its
 * file is then the sweep's). One that was let go is still counted held for
 * a grace period, so that a cut upload's staged file, suspended and about
 * to be recorded as a partial upload, is not taken for an orphan meanwhile.
 *
 * | call         | what                                                                 |
 * | ------------ | -------------------------------------------------------------------- |
 * | `hold`       | a live upload stages into the reference                              |
 * | `letGo`      | it ended (committed, discarded, suspended); remembered with the time |
 * | `holdUntil`  | `hold`, and a function that lets go once however often it is called  |
 * | `holds`      | held now, or let go less than `graceMs` ago                          |
 * | `prune`      | forgets what was let go longer ago than that                         |
 *
 * @example
 * ```ts
 * import { HeldStaging } from "./held_staging.ts";
 *
 * const held = new HeldStaging();
 * held.hold("ab/~upload-1.partial");
 * held.letGo("ab/~upload-1.partial", 1000);
 * console.log(held.holds("ab/~upload-1.partial", 500, 1400)); // true: let go 400 ms ago
 * console.log(held.holds("ab/~upload-1.partial", 500, 1600)); // false
 * ```
 *
 * @module
 */

/** The staged files this process's live uploads hold. */
export class HeldStaging {
  readonly #held = new Map<string, number>();
  readonly #letGo = new Map<string, number>();

  /** A live upload stages into `ref` (counted: a resume may hold what a cut upload held). */
  hold(ref: string): void {
    this.#held.set(ref, (this.#held.get(ref) ?? 0) + 1);
    this.#letGo.delete(ref);
  }

  /**
   * Holds `ref` ({@linkcode HeldStaging.hold}) and returns what lets it go:
   * once, however often it is called (`FileStore.holdStaged`).
   */
  holdUntil(ref: string): () => void {
    this.hold(ref);
    let held = true;
    return () => {
      if (held) this.letGo(ref);
      held = false;
    };
  }

  /** The upload staging into `ref` ended, at `now`. */
  letGo(ref: string, now: number = Date.now()): void {
    const count = this.#held.get(ref);
    if (count === undefined) return;
    if (count > 1) {
      this.#held.set(ref, count - 1);
      return;
    }
    this.#held.delete(ref);
    this.#letGo.set(ref, now);
  }

  /** Whether `ref` is held, or was let go less than `graceMs` before `now`. */
  holds(ref: string, graceMs: number, now: number = Date.now()): boolean {
    if (this.#held.has(ref)) return true;
    const at = this.#letGo.get(ref);
    return at !== undefined && now - at < graceMs;
  }

  /** Forgets what was let go `graceMs` or more before `now` (once per sweep). */
  prune(graceMs: number, now: number = Date.now()): void {
    for (const [ref, at] of this.#letGo) {
      if (now - at >= graceMs) this.#letGo.delete(ref);
    }
  }
}
