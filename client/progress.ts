/**
 * Upload progress on stderr. On a terminal: one bar redrawn in place, with
 * bytes, percent, speed and time left, cut to fit the terminal's width (the
 * bar shrinks first, then the time left, the speed and the byte counts go),
 * so that it never wraps into a trail of lines. Elsewhere (a pipe, a log
 * file): a few plain lines, at the start, every quarter and the end. Quiet:
 * nothing but notes that matter (retries). Stdout is never touched.
 *
 * @module
 */

import { formatBytes } from "../common/units.ts";
import { writeAllSync } from "../common/write_all.ts";

/** Where progress goes: anything with a synchronous write (`Deno.stderr`). */
export interface ProgressSink {
  /** Writes part of `p`; returns the count written. */
  writeSync(p: Uint8Array): number;
}

/** How the progress is shown. */
export interface ProgressOptions {
  /** Where to write. */
  sink: ProgressSink;
  /** Draw a bar redrawn in place (stderr is a terminal). */
  terminal: boolean;
  /** Print nothing but notes. */
  quiet: boolean;
  /** The clock, in milliseconds; `performance.now` by default. */
  now?: () => number;
  /** The terminal's width in columns, asked at each redraw; 80 when unknown. */
  columns?: () => number | undefined;
}

const BAR_WIDTH = 24;
const MIN_BAR_WIDTH = 10;
const DEFAULT_COLUMNS = 80;

/** The width of the terminal behind stderr, or `undefined` when there is none. */
export function terminalColumns(): number | undefined {
  try {
    return Deno.consoleSize().columns;
  } catch {
    return undefined;
  }
}

/** What one bar shows. */
export interface BarState {
  /** File bytes sent. */
  sent: number;
  /** File size. */
  total: number;
  /** Bytes per second. */
  speed: number;
  /** Seconds left. */
  left: number;
}

/**
 * The bar line for `state`, at most `columns - 1` characters (the last column
 * would make some terminals wrap): `[####----] 1.0 MB / 2.0 MB 50% 1.0 MB/s
 * 0:01 left`, losing the time left, the speed and the counts as it narrows.
 */
export function formatBar(state: BarState, columns: number): string {
  const fraction = state.total === 0 ? 1 : state.sent / state.total;
  const percent = `${Math.floor(fraction * 100)}%`;
  const bytes = `${formatBytes(state.sent, { fixed: true })} / ${
    formatBytes(state.total, { fixed: true })
  }`;
  const speed = `${formatBytes(Math.round(state.speed), { fixed: true })}/s`;
  const left = `${formatDuration(state.left)} left`;
  const candidates = [
    `${bytes} ${percent} ${speed} ${left}`,
    `${bytes} ${percent} ${speed}`,
    `${bytes} ${percent}`,
    percent,
  ];
  const room = Math.max(columns - 1, 1);
  for (const [i, text] of candidates.entries()) {
    const barWidth = Math.min(BAR_WIDTH, room - text.length - 3);
    const last = i === candidates.length - 1;
    if (barWidth < MIN_BAR_WIDTH && !last) continue;
    if (barWidth < 1) break;
    const filled = Math.round(fraction * barWidth);
    return `[${"#".repeat(filled)}${"-".repeat(barWidth - filled)}] ${text}`;
  }
  return percent.slice(0, room);
}

const REDRAW_MS = 100;

/** Formats seconds as `m:ss` or `h:mm:ss`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** Shows the progress of each send. */
export class Progress {
  #sink: ProgressSink;
  #terminal: boolean;
  #quiet: boolean;
  #now: () => number;
  #columns: () => number | undefined;
  #encoder = new TextEncoder();
  #attempt = 0;
  #start = 0;
  #lastDraw = -Infinity;
  #lastQuarter = -1;
  #barShown = false;

  /**
   * Prepares the display; nothing is shown until the first update.
   *
   * @param options Where and how to show the progress.
   */
  constructor(options: ProgressOptions) {
    this.#sink = options.sink;
    this.#terminal = options.terminal;
    this.#quiet = options.quiet;
    this.#now = options.now ?? (() => performance.now());
    this.#columns = options.columns ?? (() => undefined);
  }

  #write(text: string): void {
    writeAllSync(this.#sink, this.#encoder.encode(text));
  }

  /** Prints a line of its own (clearing the bar first), even when quiet. */
  note(text: string): void {
    this.#clearBar();
    this.#write(`client: ${text}\n`);
  }

  /** Prints a line unless quiet. */
  info(text: string): void {
    if (!this.#quiet) this.note(text);
  }

  /**
   * Starts the progress of a new file, and its clock: the speed counts from
   * here, not from the first update (which comes after the first write).
   */
  start(): void {
    this.#clearBar(true);
    this.#attempt = 1;
    this.#start = this.#now();
    this.#lastDraw = -Infinity;
    this.#lastQuarter = -1;
  }

  /** Reports `sent` of `total` file bytes sent in send number `attempt`. */
  update(sent: number, total: number, attempt: number): void {
    if (this.#quiet) return;
    const now = this.#now();
    if (attempt !== this.#attempt) {
      this.#attempt = attempt;
      this.#start = now;
      this.#lastDraw = -Infinity;
      this.#lastQuarter = -1;
    }
    const fraction = total === 0 ? 1 : sent / total;
    const elapsed = (now - this.#start) / 1000;
    const speed = elapsed > 0 ? sent / elapsed : 0;
    const left = sent >= total ? 0 : speed > 0 ? (total - sent) / speed : Infinity;
    const percent = Math.floor(fraction * 100);
    if (this.#terminal) {
      if (sent < total && now - this.#lastDraw < REDRAW_MS) return;
      this.#lastDraw = now;
      const columns = this.#columns() ?? DEFAULT_COLUMNS;
      this.#write(`\r\x1b[2K${formatBar({ sent, total, speed, left }, columns)}`);
      this.#barShown = true;
      if (sent >= total) this.#clearBar(true);
    } else {
      const quarter = Math.floor(fraction * 4);
      if (quarter === this.#lastQuarter) return;
      this.#lastQuarter = quarter;
      this.#write(
        `client: sent ${formatBytes(sent, { fixed: true })} of ${
          formatBytes(total, { fixed: true })
        } (${percent}%)` +
          (sent > 0 && elapsed > 0
            ? `, ${formatBytes(Math.round(speed), { fixed: true })}/s`
            : "") +
          "\n",
      );
    }
  }

  #clearBar(keep = false): void {
    if (!this.#barShown) return;
    this.#write(keep ? "\n" : "\r\x1b[2K");
    this.#barShown = false;
  }

  /** Ends the bar, if one is drawn. */
  end(): void {
    this.#clearBar(true);
  }
}
