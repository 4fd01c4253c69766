/**
 * Frees the names nobody uses: a client that registered, then never signed
 * in again nor stored a file for `unusedForMs`, is forgotten and its name
 * is free again (issue 17: registrations were free and kept forever). Runs
 * every {@linkcode sweepInterval} while the server runs; a client with a
 * file, a commit or an upload (a reservation) in progress is never touched
 * (`Registry.forgetUnusedClients`). A freed name's kept partial uploads go
 * with it; their staged copies are left to the sweep of staged files
 * (`staged_sweep.ts`).
 *
 * What the operator sees: each sweep that frees names logs one line with
 * them; `server clients` shows each client's last sight, from which the
 * moment its name would be freed follows.
 *
 * @example
 * ```ts
 * import { sweepInterval } from "./unused_names.ts";
 * console.log(sweepInterval(7 * 24 * 3_600_000)); // 3600000: hourly
 * ```
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { Periodic } from "../../common/periodic.ts";
import type { Registry } from "./registry.ts";

/** Default time after which an unused name is freed: 7 days. */
export const DEFAULT_FORGET_UNUSED_AFTER_MS = 7 * 24 * 3_600_000;

/** How often the names are swept: a tenth of `unusedForMs`, between 1 s and 1 hour. */
export function sweepInterval(unusedForMs: number): number {
  return Math.min(3_600_000, Math.max(1_000, Math.floor(unusedForMs / 10)));
}

/** Sweeps unused names periodically; {@linkcode UnusedNames.stop} ends it. */
export class UnusedNames {
  readonly #registry: Registry;
  readonly #unusedForMs: number;
  readonly #logger: Logger;
  readonly #periodic: Periodic;

  /**
   * @param unusedForMs How long a name may go unused before it is freed.
   */
  constructor(registry: Registry, unusedForMs: number, logger: Logger) {
    this.#registry = registry;
    this.#unusedForMs = unusedForMs;
    this.#logger = logger;
    this.#periodic = new Periodic({
      intervalMs: sweepInterval(unusedForMs),
      run: () => this.sweep(),
      onError: (error) => logger.warn("Cannot free unused names: {error}", { error }),
    });
  }

  /** Starts sweeping, the first time after one interval. */
  start(): void {
    this.#periodic.start();
  }

  /** Frees the names unused for long enough now; returns them. */
  async sweep(now: number = Date.now()): Promise<string[]> {
    const names = await this.#registry.forgetUnusedClients(now - this.#unusedForMs);
    if (names.length > 0) {
      this.#logger.info("Freed {count} names unused for {hours} h: {names}", {
        count: names.length,
        hours: this.#unusedForMs / 3_600_000,
        names: names.join(", "),
      });
    }
    return names;
  }

  /** Stops sweeping; waits for a sweep in progress. */
  async stop(): Promise<void> {
    await this.#periodic.stop();
  }
}
