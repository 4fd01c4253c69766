/**
 * The `serve` command's options turned into its {@linkcode Command}: the
 * limits, the ports and the secure mode's options, with the rules that tie
 * them together (`--no-secure` excludes `--secure-port`, `--identity` and
 * `--public-secure-port`).
 *
 * @module
 */

import { isLogLevel } from "@logtape/logtape";
import { DEFAULT_MAX_FILE_SIZE } from "../../protocol/mod.ts";
import type { Command } from "./command_line.ts";
import {
  parseCount,
  parseDialects,
  parseDuration,
  parseHttpAddress,
  parseMaxFileSize,
  parseMaxStored,
  parseMinRate,
  parsePort,
  UsageError,
} from "./option_values.ts";

/** The `serve` command's option values, as `parseArgs` gives them. */
export interface ServeValues {
  port?: string;
  host?: string;
  "max-file-size"?: string;
  "max-files"?: string;
  "max-stored"?: string;
  "partial-ttl"?: string;
  "max-connections"?: string;
  "max-per-address"?: string;
  "max-per-identity"?: string;
  "min-rate"?: string;
  "verdict-timeout"?: string;
  "registrations-per-address"?: string;
  "forget-unused-after"?: string;
  dialects?: string;
  "log-level"?: string;
  "secure-port"?: string;
  "no-secure"?: boolean;
  identity?: string;
  "public-secure-port"?: string;
  http?: string;
}

/**
 * The `serve` command, from its option values.
 *
 * @throws {UsageError} for a value that does not parse or options that exclude each other.
 */
export function serveCommand(dir: string, values: ServeValues): Command {
  const logLevel = values["log-level"] ?? "info";
  if (!isLogLevel(logLevel)) {
    throw new UsageError(
      `Cannot use --log-level ${logLevel}: the levels are trace, debug, info, warning, error and fatal`,
    );
  }
  return {
    kind: "serve",
    dir,
    logLevel,
    maxFileSize: values["max-file-size"] === undefined
      ? DEFAULT_MAX_FILE_SIZE
      : parseMaxFileSize(values["max-file-size"]),
    ...(values.port === undefined ? {} : { port: parsePort(values.port) }),
    ...(values["max-files"] === undefined
      ? {}
      : { maxStoredFiles: parseCount("--max-files", values["max-files"], "files") }),
    ...(values["max-stored"] === undefined
      ? {}
      : { maxStoredBytes: parseMaxStored(values["max-stored"]) }),
    ...(values["partial-ttl"] === undefined
      ? {}
      : { partialTtlMs: parseDuration("--partial-ttl", values["partial-ttl"]) }),
    ...(values["max-connections"] === undefined ? {} : {
      maxConnections: parseCount("--max-connections", values["max-connections"], "connections"),
    }),
    ...(values["max-per-address"] === undefined ? {} : {
      maxConnectionsPerAddress: parseCount(
        "--max-per-address",
        values["max-per-address"],
        "connections",
      ),
    }),
    ...availabilityOptions(values),
    ...(values["min-rate"] === undefined ? {} : { minRate: parseMinRate(values["min-rate"]) }),
    ...(values.host === undefined ? {} : { host: values.host }),
    ...(values.dialects === undefined ? {} : { dialects: parseDialects(values.dialects) }),
    ...securePortOption(values["secure-port"], values["no-secure"]),
    ...secureModeOptions(values),
    ...(values.http === undefined ? {} : { http: parseHttpAddress(values.http) }),
  };
}

function securePortOption(
  port: string | undefined,
  off: boolean | undefined,
): { securePort?: number | false } {
  if (off && port !== undefined) {
    throw new UsageError("Cannot use --secure-port with --no-secure: choose one");
  }
  if (off) return { securePort: false };
  return port === undefined ? {} : { securePort: parsePort(port, "--secure-port") };
}

/** `--identity` and `--public-secure-port`, which need the secure mode. */
function secureModeOptions(
  values: { identity?: string; "public-secure-port"?: string; "no-secure"?: boolean },
): { identity?: string; publicSecurePort?: number } {
  for (const option of ["identity", "public-secure-port"] as const) {
    if (values["no-secure"] && values[option] !== undefined) {
      throw new UsageError(`Cannot use --${option} with --no-secure: it is for the secure mode`);
    }
  }
  const publicPort = values["public-secure-port"];
  if (publicPort !== undefined && (parsePort(publicPort, "--public-secure-port") === 0)) {
    throw new UsageError(
      "Cannot use --public-secure-port 0: it names the port clients reach, 1 to 65535",
    );
  }
  return {
    ...(values.identity === undefined ? {} : { identity: values.identity }),
    ...(publicPort === undefined ? {} : { publicSecurePort: Number(publicPort) }),
  };
}

/** The options of issue 17's limits: per identity, verdict, registrations. */
function availabilityOptions(values: {
  "max-per-identity"?: string;
  "verdict-timeout"?: string;
  "registrations-per-address"?: string;
  "forget-unused-after"?: string;
}): {
  maxConnectionsPerIdentity?: number;
  verdictTimeoutMs?: number;
  registrationsPerMinute?: number;
  forgetUnusedAfterMs?: number;
} {
  const count = (option: string, text: string | undefined, unit: string) =>
    text === undefined ? undefined : parseCount(option, text, unit);
  const perIdentity = count("--max-per-identity", values["max-per-identity"], "connections");
  const verdict = count("--verdict-timeout", values["verdict-timeout"], "seconds");
  const registrations = count(
    "--registrations-per-address",
    values["registrations-per-address"],
    "registrations",
  );
  const forget = count("--forget-unused-after", values["forget-unused-after"], "hours");
  return {
    ...(perIdentity === undefined ? {} : { maxConnectionsPerIdentity: perIdentity }),
    ...(verdict === undefined ? {} : { verdictTimeoutMs: verdict * 1000 }),
    ...(registrations === undefined ? {} : { registrationsPerMinute: registrations }),
    ...(forget === undefined ? {} : { forgetUnusedAfterMs: forget * 3_600_000 }),
  };
}
