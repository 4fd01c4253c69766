/**
 * Every deadline a connection lives under, with its default, what it covers,
 * who enforces it and the end reason it leads to (`end_reason.ts`):
 *
 * | deadline   | default | covers                                                       | enforced by                 | end reason         |
 * |------------|---------|--------------------------------------------------------------|-----------------------------|--------------------|
 * | idle       | 30 s    | one read or one write; waiting for a request, counted from the last request that did work (not 850) | `server/net/timed_conn.ts`  | `idle-timeout`     |
 * | header     | 5 s     | a request's header and payload, from its first byte          | `server/net/timed_conn.ts`  | `request-timeout`  |
 * | request    | 60 s    | a whole request, from its first byte; each MiB in or out restarts it | `server/net/timed_conn.ts`  | `request-timeout`  |
 * | sign-in    | 15 s    | from the connection's opening to a client signed in          | {@linkcode SignInDeadline}  | `evicted`          |
 * | verdict    | 30 s    | from a 1603 (or a 901) to the client's next step (900, 901, 902; the 828 after 901) | {@linkcode VerdictDeadline} | `evicted` (the upload in hand is discarded) |
 * | shutdown grace | 5 s | uploads in progress when the server is asked to stop         | `server/shutdown.ts`        | `shutdown`         |
 *
 * The sign-in deadline lets a request in progress finish (an 826 whose key is
 * being stored, say, under its own request deadline): closing it then would
 * leave a stored key its client never learns was accepted. It is checked
 * again when that request ends, not polled.
 *
 * A new deadline goes in this table, with its default here and its end
 * reason in `end_reason.ts`; a deadline of the connection's state (a verdict
 * due after 1603, say) is armed and cleared where that state changes, as the
 * sign-in deadline is in `connection.ts`. Timers go through a
 * {@linkcode Clock}, so tests can drive them without waiting.
 *
 * @example
 * ```ts
 * import { manualClock, SignInDeadline } from "./deadlines.ts";
 *
 * const clock = manualClock();
 * let expired = false;
 * const deadline = new SignInDeadline(1000, () => expired = true, clock);
 * deadline.start();
 * clock.advance(1000);
 * deadline.requestDone(false);
 * console.assert(expired);
 * ```
 *
 * @module
 */

/** Default for the idle deadline (`ServerOptions.idleTimeoutMs`). */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** Default for the request deadline (`ServerOptions.requestTimeoutMs`). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
/** Default for the header deadline (`ServerOptions.headerTimeoutMs`). */
export const DEFAULT_HEADER_TIMEOUT_MS = 5_000;
/** Default for the sign-in deadline (`ServerOptions.signInTimeoutMs`). */
export const DEFAULT_SIGN_IN_TIMEOUT_MS = 15_000;
/** Default for the verdict deadline (`ServerOptions.verdictTimeoutMs`). */
export const DEFAULT_VERDICT_TIMEOUT_MS = 30_000;
/** Default for the shutdown grace period (`ServerOptions.shutdownGraceMs`). */
export const DEFAULT_SHUTDOWN_GRACE_MS = 5_000;

/** The timers deadlines use: the system's, or a test's. */
export interface Clock {
  /** Calls `callback` after `ms` milliseconds; returns a handle for {@linkcode Clock.clear}. */
  set(callback: () => void, ms: number): unknown;
  /** Cancels a timer; does nothing for one that fired or was cleared. */
  clear(handle: unknown): void;
}

/** The system's timers. */
export const systemClock: Clock = {
  set: (callback, ms) => setTimeout(callback, ms),
  clear: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** A clock that moves only when told: for tests. */
export interface ManualClock extends Clock {
  /** Moves time on by `ms`, firing every timer due, in order. */
  advance(ms: number): void;
  /** Timers set and not yet fired or cleared. */
  readonly pending: number;
}

/** A {@linkcode ManualClock} at time 0. */
export function manualClock(): ManualClock {
  let now = 0;
  let next = 1;
  const timers = new Map<number, { at: number; callback: () => void }>();
  return {
    set(callback, ms) {
      timers.set(next, { at: now + ms, callback });
      return next++;
    },
    clear(handle) {
      if (typeof handle === "number") timers.delete(handle);
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = [...timers].filter(([, timer]) => timer.at <= end)
          .sort(([a, x], [b, y]) => x.at - y.at || a - b)[0];
        if (due === undefined) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].callback();
      }
      now = end;
    },
    get pending() {
      return timers.size;
    },
  };
}

/**
 * How long a connection may stay open without a client signing in on it.
 *
 * | state     | becomes                                                     |
 * |-----------|-------------------------------------------------------------|
 * | `idle`    | `running` at {@linkcode SignInDeadline.start}               |
 * | `running` | `met` when a client signs in; at the deadline `expired` if no request is in progress, else `overdue` |
 * | `overdue` | `met` when the request ends with a client signed in, else `expired` |
 * | `met`, `expired`, `stopped` | final                                     |
 */
export class SignInDeadline {
  readonly #timeoutMs: number;
  readonly #expire: () => void;
  readonly #clock: Clock;
  #state:
    | { kind: "idle" }
    | { kind: "running"; timer: unknown; handlingRequest: boolean }
    | { kind: "overdue" }
    | { kind: "met" | "expired" | "stopped" } = { kind: "idle" };

  /**
   * @param timeoutMs How long after {@linkcode SignInDeadline.start} a client must be signed in.
   * @param expire Called once when the deadline passes with nobody signed in.
   * @param clock The timers; the system's by default.
   */
  constructor(timeoutMs: number, expire: () => void, clock: Clock = systemClock) {
    this.#timeoutMs = timeoutMs;
    this.#expire = expire;
    this.#clock = clock;
  }

  /** The deadline's state, for tests and logs. */
  get state(): "idle" | "running" | "overdue" | "met" | "expired" | "stopped" {
    return this.#state.kind;
  }

  /** Starts counting (the connection opened). */
  start(): void {
    if (this.#state.kind !== "idle") return;
    const timer = this.#clock.set(() => this.#passed(), this.#timeoutMs);
    this.#state = { kind: "running", timer, handlingRequest: false };
  }

  /** A request's header arrived: it is let finish if the deadline passes meanwhile. */
  requestStarted(): void {
    if (this.#state.kind === "running") this.#state = { ...this.#state, handlingRequest: true };
  }

  /** A request ended; `signedIn` says whether a client is signed in now. */
  requestDone(signedIn: boolean): void {
    const state = this.#state;
    if (signedIn) {
      if (state.kind === "running") this.#clock.clear(state.timer);
      if (state.kind === "running" || state.kind === "overdue") this.#state = { kind: "met" };
      return;
    }
    if (state.kind === "running") this.#state = { ...state, handlingRequest: false };
    if (state.kind === "overdue") this.#end();
  }

  /** Stops counting (the connection ended); `expire` will not be called. */
  stop(): void {
    if (this.#state.kind === "running") this.#clock.clear(this.#state.timer);
    if (this.#state.kind !== "expired" && this.#state.kind !== "met") {
      this.#state = { kind: "stopped" };
    }
  }

  #passed(): void {
    if (this.#state.kind !== "running") return;
    if (this.#state.handlingRequest) this.#state = { kind: "overdue" };
    else this.#end();
  }

  #end(): void {
    this.#state = { kind: "expired" };
    this.#expire();
  }
}

/**
 * The verdict deadline of a connection whose client has an upload in hand:
 * armed when the upload comes into its hands (a 1603, a 901), cleared when
 * it leaves them. Passing while a request is being served, it waits for that
 * request's end ({@linkcode VerdictDeadline.requestDone}).
 */
export class VerdictDeadline {
  readonly #timeoutMs: number | undefined;
  readonly #clock: Clock;
  readonly #idle: () => boolean;
  readonly #passed: () => void;
  /** The timer while it runs; `overdue` once passed mid-request. */
  #state: { kind: "none" } | { kind: "running"; timer: unknown } | { kind: "overdue" } = {
    kind: "none",
  };

  /**
   * Creates the deadline, not running.
   *
   * @param timeoutMs How long the client may take; no limit when `undefined`.
   * @param hooks `idle`: whether the connection waits for a request (no
   * request in progress); `passed`: the deadline passed with the upload in hand.
   * @param clock The timers; the system's by default.
   */
  constructor(
    timeoutMs: number | undefined,
    hooks: { idle: () => boolean; passed: () => void },
    clock: Clock = systemClock,
  ) {
    this.#timeoutMs = timeoutMs;
    this.#clock = clock;
    this.#idle = hooks.idle;
    this.#passed = hooks.passed;
  }

  /** Starts it, unless it runs already (a resend after 901 keeps the first deadline). */
  start(): void {
    const timeoutMs = this.#timeoutMs;
    if (timeoutMs === undefined || this.#state.kind !== "none") return;
    const timer = this.#clock.set(() => {
      this.#state = { kind: "overdue" };
      if (this.#idle()) this.#pass();
    }, timeoutMs);
    this.#state = { kind: "running", timer };
  }

  /** Stops it: the upload left the client's hands. */
  stop(): void {
    if (this.#state.kind === "running") this.#clock.clear(this.#state.timer);
    this.#state = { kind: "none" };
  }

  /** A request ended: a deadline that passed during it passes now. */
  requestDone(): void {
    if (this.#state.kind === "overdue") this.#pass();
  }

  #pass(): void {
    this.#state = { kind: "none" };
    this.#passed();
  }
}
