/**
 * The running sweep of staged files (issue 17: staged files older than the
 * verdict deadline are removed). While the server runs, a staged file can
 * outlive its upload: its discard failed (the disk or the object store
 * refused), or the instance that staged it crashed while others sharing the
 * bucket and the registry go on. Start-up removes such leftovers
 * (`FileStore.removeAbandoned`); this sweep removes them without a restart,
 * with the reservations that counted them.
 *
 * Every {@linkcode stagedSweepInterval} it:
 *
 * | step | what                                                                                          |
 * | ---- | --------------------------------------------------------------------------------------------- |
 * | 1    | reads the kept partial uploads (`Registry.listPartials`) and the commits a crashed instance left (`Registry.pendingCommits`): what they name is meant for a resume or a recovery, never removed |
 * | 2    | `FileStore.sweepStaged`: removes the staged files older than {@linkcode stagedSweepAge} that no live upload of this instance holds, no kept partial names, and (shared storage) no other live instance owns; bounded per sweep |
 * | 3    | `Registry.dropStaleReservations`: drops the reservations older than that age that no live connection of this instance holds (a release that failed) and those of instances that are gone |
 *
 * The age is twice the verdict deadline (`--verdict-timeout`, 30 s: 60 s): a
 * live upload's staged file is held whatever its age (a resume holds the
 * kept one from before it takes its record, `FileStore.holdStaged`), so the
 * age only guards the moments between a staged file's creation and its
 * first hold, or between a cut upload's suspension and its record as a
 * partial upload.
 * What the operator sees: one log line per sweep that removed something.
 *
 * @example
 * ```ts
 * import { stagedSweepAge, stagedSweepInterval } from "./staged_sweep.ts";
 * console.log(stagedSweepAge(30_000), stagedSweepInterval(60_000)); // 60000 30000
 * ```
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { Periodic } from "../../common/periodic.ts";
import type { FileStore } from "./file_store.ts";
import type { Registry } from "./registry.ts";

/** How old a staged file or reservation nobody holds must be to go: twice the verdict deadline. */
export function stagedSweepAge(verdictTimeoutMs: number): number {
  return 2 * verdictTimeoutMs;
}

/** How often the sweep runs: half the age, between 0.5 s and 1 minute. */
export function stagedSweepInterval(ageMs: number): number {
  return Math.min(60_000, Math.max(500, Math.floor(ageMs / 2)));
}

/** What one sweep removed. */
export interface SweepResult {
  /** The staged files removed (paths or `s3://` addresses). */
  removed: string[];
  /** How many reservations were dropped. */
  reservations: number;
}

/** What the sweep needs. */
export interface StagedSweepOptions {
  /** This instance (`CommitOptions.instanceId`): its reservations are judged by `heldReservation`. */
  instanceId: string;
  /** Whether a live connection of this instance holds the reservation `token`. */
  heldReservation(token: string): boolean;
  /** {@linkcode stagedSweepAge} of the verdict deadline. */
  ageMs: number;
}

/** Sweeps staged files and reservations periodically; {@linkcode StagedSweep.stop} ends it. */
export class StagedSweep {
  readonly #storage: { registry: Registry; store: FileStore };
  readonly #options: StagedSweepOptions;
  readonly #logger: Logger;
  readonly #periodic: Periodic;

  /**
   * @param storage The registry and the file store the server serves from.
   * @param options This instance, its live reservations, and the age.
   * @param logger Where removals are logged.
   */
  constructor(
    storage: { registry: Registry; store: FileStore },
    options: StagedSweepOptions,
    logger: Logger,
  ) {
    this.#storage = storage;
    this.#options = options;
    this.#logger = logger;
    this.#periodic = new Periodic({
      intervalMs: stagedSweepInterval(options.ageMs),
      run: () => this.sweep(),
      onError: (error) => logger.warn("Cannot sweep staged files now: {error}", { error }),
    });
  }

  /** Starts sweeping, the first time after one interval. */
  start(): void {
    this.#periodic.start();
  }

  /** Sweeps once now; returns what went (and logs it, in one line, if anything did). */
  async sweep(now: number = Date.now()): Promise<SweepResult> {
    const { registry, store } = this.#storage;
    const { ageMs, instanceId, heldReservation } = this.#options;
    // Read before the store lists what it stages: a partial recorded later was held meanwhile.
    // A crashed instance's commit in progress names its staged file too: start-up settles it.
    const kept = new Set([
      ...(await registry.listPartials()).map((partial) => partial.stagingRef),
      ...(await registry.pendingCommits()).map((intent) => intent.stagingRef),
    ]);
    const removed = await store.sweepStaged({
      olderThanMs: ageMs,
      isKept: (ref) => kept.has(ref),
    });
    const reservations = await registry.dropStaleReservations(
      instanceId,
      heldReservation,
      now - ageMs,
    );
    if (removed.length > 0 || reservations > 0) {
      this.#logger.info(
        "Removed {count} staged files no upload holds, older than {seconds} s{which}; " +
          "dropped {reservations} reservations no connection holds",
        {
          count: removed.length,
          seconds: ageMs / 1000,
          which: removed.length === 0 ? "" : `: ${removed.join(", ")}`,
          reservations,
        },
      );
    }
    return { removed, reservations };
  }

  /** Stops sweeping; waits for a sweep in progress. */
  async stop(): Promise<void> {
    await this.#periodic.stop();
  }
}
