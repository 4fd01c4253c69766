/**
 * A job run every so often while a program runs (the server's sweeps: staged
 * files, unused names, expired partial uploads): one run at a time, the next
 * one `intervalMs` after the previous one ended, a failure reported and the
 * schedule kept, and a stop that waits for the run in progress, so nothing
 * the job uses is closed under it.
 *
 * @example
 * ```ts
 * import { Periodic } from "./periodic.ts";
 *
 * let runs = 0;
 * const job = new Periodic({
 *   intervalMs: 10,
 *   run: () => Promise.resolve(runs++),
 *   onError: (error) => console.error(error),
 * });
 * job.start({ now: true });
 * await new Promise((resolve) => setTimeout(resolve, 35));
 * await job.stop();
 * console.assert(runs >= 1);
 * ```
 *
 * @module
 */

/** What a {@linkcode Periodic} runs, and how often. */
export interface PeriodicOptions {
  /** Milliseconds from the end of one run to the start of the next. */
  intervalMs: number;
  /** The job. */
  run(): Promise<unknown>;
  /** Told of a run that failed; the next run is still scheduled. */
  onError(error: unknown): void;
}

/** A job run every {@linkcode PeriodicOptions.intervalMs} until stopped. */
export class Periodic {
  readonly #options: PeriodicOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #running: Promise<void> = Promise.resolve();
  #stopped = false;

  /**
   * @param options The job, its interval and where its failures go.
   * @throws {RangeError} if the interval is not a positive number of milliseconds.
   */
  constructor(options: PeriodicOptions) {
    if (!(options.intervalMs > 0) || !Number.isFinite(options.intervalMs)) {
      throw new RangeError(
        `Cannot run a job periodically: ${options.intervalMs} ms is not an interval`,
      );
    }
    this.#options = options;
  }

  /** Starts the schedule: the first run at once with `now`, else after one interval. */
  start(when: { now?: boolean } = {}): void {
    if (when.now) this.#runOnce();
    else this.#schedule();
  }

  /** Stops the schedule; settles once a run in progress is done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => this.#runOnce(), this.#options.intervalMs);
  }

  #runOnce(): void {
    if (this.#stopped) return;
    this.#running = this.#options.run().then(
      () => {},
      (error) => this.#options.onError(error),
    ).finally(() => this.#schedule());
  }
}
