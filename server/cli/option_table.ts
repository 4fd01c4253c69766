/**
 * The server's options table: every option `parseArgs` knows, and which
 * command accepts which (`--dir`, `--help` and `--version` go with all).
 * The usage text is `usage.ts`; the values' parsers `option_values.ts`.
 *
 * @module
 */

import { UsageError } from "./option_values.ts";

/** Every option, as `node:util`'s `parseArgs` takes them. */
export const OPTIONS = {
  dir: { type: "string" },
  port: { type: "string" },
  host: { type: "string" },
  "max-file-size": { type: "string" },
  "max-files": { type: "string" },
  "max-stored": { type: "string" },
  "partial-ttl": { type: "string" },
  "max-connections": { type: "string" },
  "max-per-address": { type: "string" },
  "max-per-identity": { type: "string" },
  "min-rate": { type: "string" },
  "verdict-timeout": { type: "string" },
  "registrations-per-address": { type: "string" },
  "forget-unused-after": { type: "string" },
  "log-level": { type: "string" },
  dialects: { type: "string" },
  "secure-port": { type: "string" },
  "no-secure": { type: "boolean" },
  identity: { type: "string" },
  http: { type: "string" },
  "public-secure-port": { type: "string" },
  json: { type: "boolean" },
  "delete-files": { type: "boolean" },
  registry: { type: "string" },
  store: { type: "string" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

/** The name of an option (without `--`). */
export type OptionName = keyof typeof OPTIONS;

/** The options each command accepts, beyond `--dir`, `--help`, `--version`. */
export const COMMAND_OPTIONS: Record<string, readonly OptionName[]> = {
  serve: [
    "port",
    "host",
    "max-file-size",
    "max-files",
    "max-stored",
    "partial-ttl",
    "max-connections",
    "max-per-address",
    "max-per-identity",
    "min-rate",
    "verdict-timeout",
    "registrations-per-address",
    "forget-unused-after",
    "dialects",
    "log-level",
    "registry",
    "store",
    "secure-port",
    "no-secure",
    "identity",
    "public-secure-port",
    "http",
  ],
  fingerprint: ["identity", "registry"],
  identity: [],
  "rotate-identity": ["registry"],
  clients: ["json", "registry", "store", "forget-unused-after"],
  files: ["json", "registry", "store"],
  forget: ["delete-files", "registry", "store"],
};

/**
 * Names an unknown option in plain words (before `parseArgs` would, at length).
 *
 * @throws {UsageError} for an option no command has.
 */
export function checkOptionNames(args: string[]): void {
  for (const arg of args) {
    if (arg === "--") return;
    const name = /^--([^=]+)/.exec(arg)?.[1] ?? /^-([^-])$/.exec(arg)?.[1];
    if (name === undefined) continue;
    const known = name in OPTIONS ||
      Object.values(OPTIONS).some((option) => "short" in option && option.short === name);
    if (!known) throw new UsageError(`Cannot use ${arg}: there is no such option`);
  }
}
