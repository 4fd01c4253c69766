/**
 * Upload progress on stderr. On a terminal: one bar redrawn in place, with
 * bytes, percent, speed and time left. Elsewhere (a pipe, a log file): a few
 * plain lines, at the start, every quarter and the end. Quiet: nothing but
 * notes that matter (retries). Stdout is never touched.
 *
 * @module
 */

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
}

const BAR_WIDTH = 24;
const REDRAW_MS = 100;

/** Formats a byte count with a decimal unit: `12.3 MB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "kB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

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
  }

  #write(text: string): void {
    const bytes = this.#encoder.encode(text);
    let written = 0;
    while (written < bytes.length) written += this.#sink.writeSync(bytes.subarray(written));
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

  /** Reports `sent` of `total` content bytes written in send number `attempt`. */
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
    const left = speed > 0 ? (total - sent) / speed : Infinity;
    const percent = Math.floor(fraction * 100);
    if (this.#terminal) {
      if (sent < total && now - this.#lastDraw < REDRAW_MS) return;
      this.#lastDraw = now;
      const filled = Math.round(fraction * BAR_WIDTH);
      const bar = "#".repeat(filled) + "-".repeat(BAR_WIDTH - filled);
      this.#write(
        `\r\x1b[2K[${bar}] ${formatBytes(sent)} / ${formatBytes(total)} ${percent}% ` +
          `${formatBytes(Math.round(speed))}/s ${formatDuration(left)} left`,
      );
      this.#barShown = true;
      if (sent >= total) this.#clearBar(true);
    } else {
      const quarter = Math.floor(fraction * 4);
      if (quarter === this.#lastQuarter) return;
      this.#lastQuarter = quarter;
      this.#write(
        `client: sent ${formatBytes(sent)} of ${formatBytes(total)} (${percent}%)` +
          (sent > 0 && elapsed > 0 ? `, ${formatBytes(Math.round(speed))}/s` : "") + "\n",
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
