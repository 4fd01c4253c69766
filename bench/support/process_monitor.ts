/**
 * Peak resident memory and CPU time of a child process, sampled from Linux's
 * `/proc/<pid>/status` (VmHWM: the kernel's own high-water mark) and
 * `/proc/<pid>/stat` (user and system clock ticks). Elsewhere the figures are
 * reported as unavailable rather than guessed.
 *
 * @module
 */

/** What a monitor saw of one process. */
export interface ProcessFigures {
  /** Peak resident set size in bytes, or `undefined` where `/proc` is missing. */
  peakRssBytes: number | undefined;
  /** User plus system CPU seconds, or `undefined` where `/proc` is missing. */
  cpuSeconds: number | undefined;
}

const CLOCK_TICKS_PER_SECOND = 100;

function readProc(pid: number): ProcessFigures | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return {
      peakRssBytes: hwm ? Number(hwm[1]) * 1024 : undefined,
      cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND,
    };
  } catch {
    return undefined;
  }
}

/**
 * Samples a process every `intervalMs` until {@linkcode ProcessMonitor.stop}.
 * The last sample before the process exits stands for its totals: CPU time of
 * at most one interval can be missed.
 */
export class ProcessMonitor {
  #pid: number;
  #timer: ReturnType<typeof setInterval>;
  #last: ProcessFigures = { peakRssBytes: undefined, cpuSeconds: undefined };

  /**
   * @param pid The process to watch.
   * @param intervalMs How often to sample.
   */
  constructor(pid: number, intervalMs = 25) {
    this.#pid = pid;
    this.#sample();
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  /** The most recent figures. */
  get figures(): ProcessFigures {
    return this.#last;
  }

  #sample(): void {
    const figures = readProc(this.#pid);
    if (figures === undefined) return;
    // A process that has exited but not been reaped (a zombie) has no VmHWM
    // line any more: keep the peak seen while it ran.
    this.#last = {
      peakRssBytes: figures.peakRssBytes ?? this.#last.peakRssBytes,
      cpuSeconds: figures.cpuSeconds ?? this.#last.cpuSeconds,
    };
  }

  /** Takes a last sample (if the process still runs) and stops sampling. */
  stop(): ProcessFigures {
    this.#sample();
    clearInterval(this.#timer);
    return this.#last;
  }
}

/** Formats bytes as MB (10^6), or "n/a". */
export function formatMb(bytes: number | undefined): string {
  return bytes === undefined ? "n/a" : `${(bytes / 1e6).toFixed(0)} MB`;
}

/** Formats CPU seconds, or "n/a". */
export function formatSeconds(seconds: number | undefined): string {
  return seconds === undefined ? "n/a" : `${seconds.toFixed(2)} s`;
}
