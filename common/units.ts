/**
 * Byte counts in human units, both ways: `formatBytes(1_500_000)` is
 * `"1.5 MB"`, and `parseByteSize("1.5GB")` is `1_500_000_000`. Shared by the
 * server's and the client's messages.
 *
 * | suffix                  | factor |
 * |-------------------------|--------|
 * | none, `B`               | 1      |
 * | `k`, `kB`, `K`, `KB`    | 1000   |
 * | `M`, `MB`               | 1000²  |
 * | `G`, `GB`               | 1000³  |
 * | `KiB`, `MiB`, `GiB`     | 1024, 1024², 1024³ |
 *
 * @module
 */

const DECIMAL_UNITS = ["B", "kB", "MB", "GB", "TB"] as const;

const FACTORS: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** How {@linkcode formatBytes} writes its one decimal. */
export interface FormatBytesOptions {
  /**
   * Always write the decimal, `.0` included (`800.0 MB`), so that a number
   * that changes keeps its width: the client's progress lines. Default
   * false: `800 MB`.
   */
  fixed?: boolean;
}

/**
 * Formats a byte count with a decimal unit and at most one decimal:
 * `0 B`, `1 B`, `999 B`, `1.5 kB`, `800 MB`, `12.3 GB`; with `fixed`, one
 * decimal always above bytes: `1.0 kB`, `800.0 MB`.
 *
 * @example
 * ```ts
 * import { formatBytes } from "./units.ts";
 * console.assert(formatBytes(800_000_000) === "800 MB");
 * console.assert(formatBytes(800_000_000, { fixed: true }) === "800.0 MB");
 * console.assert(formatBytes(999, { fixed: true }) === "999 B");
 * ```
 */
export function formatBytes(bytes: number, options: FormatBytesOptions = {}): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 999.95 && unit < DECIMAL_UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  if (unit === 0) return `${bytes} B`;
  const fixed = value.toFixed(1);
  const text = options.fixed === true ? fixed : fixed.replace(/\.0$/, "");
  return `${text} ${DECIMAL_UNITS[unit]}`;
}

/** A size that {@linkcode parseByteSize} refuses; the message says why. */
export class ByteSizeError extends SyntaxError {
  /**
   * Creates the error.
   *
   * @param message Why the text is not a size.
   */
  constructor(message: string) {
    super(message);
    this.name = "ByteSizeError";
  }
}

/**
 * Parses a size such as `800MB`, `1.5GB`, `512MiB`, `800M` or `1000000`
 * (see the module table; case and a space before the unit do not matter).
 *
 * @throws {ByteSizeError} when the text is not a size, or is not a whole
 * number of bytes; the message says which forms are accepted.
 *
 * @example
 * ```ts
 * import { parseByteSize } from "./units.ts";
 * console.assert(parseByteSize("1.5GB") === 1_500_000_000);
 * console.assert(parseByteSize("1MiB") === 1_048_576);
 * ```
 */
export function parseByteSize(text: string): number {
  const match = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (match === null) {
    throw new ByteSizeError(
      `${JSON.stringify(text)} is not a size: write a number with an optional unit, ` +
        "such as 800MB, 1.5GB, 512MiB or 1000000",
    );
  }
  const factor = FACTORS[match[2]!.toLowerCase()];
  if (factor === undefined) {
    throw new ByteSizeError(
      `${JSON.stringify(match[2])} is not a unit: use B, kB, MB, GB, KiB, MiB or GiB`,
    );
  }
  const size = Number(match[1]) * factor;
  if (!Number.isSafeInteger(Math.round(size)) || Math.abs(size - Math.round(size)) > 1e-6) {
    throw new ByteSizeError(`${JSON.stringify(text)} is not a whole number of bytes`);
  }
  return Math.round(size);
}

/**
 * A count and its noun, singular for exactly one: `1 packet`, `0 packets`,
 * `2 connections`.
 *
 * @example
 * ```ts
 * import { plural } from "./units.ts";
 * console.assert(plural(1, "packet") === "1 packet");
 * console.assert(plural(3, "upload") === "3 uploads");
 * ```
 */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
