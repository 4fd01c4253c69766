/**
 * The servers this client has pinned, in `known_servers` beside `me.info`:
 * one line per server, editable by hand like ssh's `known_hosts`.
 *
 * ```text
 * # comment
 * host:port  secure-port  fingerprint  [certificate]
 * 127.0.0.1:1256 1257 SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU MIIBSDCB+6ADAgECAhB...
 * ```
 *
 * - `host:port` is the address as `transfer.info` writes it (host names in
 *   any case; IPv6 in brackets);
 * - `secure-port` is the server's TLS port;
 * - `fingerprint` is the SHA-256 of the server's certificate, in either form
 *   `protocol/fingerprint.ts` reads;
 * - `certificate` (Base64 DER) is what the TLS handshake checks against: it
 *   is written by the client once it has fetched a certificate whose SHA-256
 *   is the fingerprint. A line written by hand needs only the first three
 *   fields: that pins the fingerprint in advance.
 *
 * Fields are separated by spaces or tabs; `#` starts a comment line. An
 * error names the file and the line, as a `SyntaxError`.
 *
 * @example
 * ```ts
 * import { parseKnownServers } from "./known_servers.ts";
 * const [entry] = parseKnownServers(
 *   "example.org:1256 1257 SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
 *   "known_servers",
 * );
 * console.assert(entry?.securePort === 1257);
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { formatAddress } from "../common/address.ts";
import {
  certificateFingerprint,
  FingerprintSyntaxError,
  formatFingerprint,
  parseFingerprint,
} from "../protocol/fingerprint.ts";
import { ConfigError } from "./client_error.ts";
import { readOptional, writeClientFile } from "./identity_store.ts";
import { parseAddress } from "./transfer_info.ts";

/** The file's name, in the client's folder. */
export const KNOWN_SERVERS = "known_servers";

const HEADER = `# Servers this client has pinned for the secure mode (trust on first use, like ssh).
# host:port secure-port fingerprint [certificate]
# Delete a server's line to forget it. To pin a fingerprint before the first contact, add a
# line with the first three fields (the server's operator can show the fingerprint).
`;

/** One pinned server. */
export interface KnownServer {
  /** The host as written (IPv6 without brackets). */
  host: string;
  /** The plain port, as in `transfer.info`. */
  port: number;
  /** The TLS port. */
  securePort: number;
  /** SHA-256 of the certificate. */
  fingerprint: Uint8Array;
  /** The certificate, DER; absent on a line that pins a fingerprint in advance. */
  certificate?: Uint8Array;
  /** The line it was read from, for messages. */
  line?: number;
}

/** The address key of a server: `host:port`, IPv6 in brackets, host names in lower case. */
export function serverAddress(host: string, port: number): string {
  return formatAddress(host.toLowerCase(), port);
}

/** A line of `known_servers` that does not parse: the file, the line and the reason apart. */
export class KnownServersSyntaxError extends SyntaxError {
  /** The path of `known_servers`. */
  readonly path: string;
  /** The 1-based line number. */
  readonly line: number;
  /** What is wrong with the line. */
  readonly reason: string;

  /**
   * Creates the error: `Cannot parse <path> line <n>: <reason>`.
   *
   * @param path The file.
   * @param line The 1-based line number.
   * @param reason What is wrong.
   */
  constructor(path: string, line: number, reason: string) {
    super(`Cannot parse ${path} line ${line}: ${reason}`);
    this.name = "KnownServersSyntaxError";
    this.path = path;
    this.line = line;
    this.reason = reason;
  }
}

function lineError(path: string, line: number, reason: string): KnownServersSyntaxError {
  return new KnownServersSyntaxError(path, line, reason);
}

function parseLine(fields: string[], path: string, line: number): KnownServer {
  if (fields.length < 3 || fields.length > 4) {
    throw lineError(
      path,
      line,
      `expected "host:port secure-port fingerprint [certificate]", got ${fields.length} fields`,
    );
  }
  const [addressText, portText, fingerprintText, certificateText] = fields as [
    string,
    string,
    string,
    string | undefined,
  ];
  const address = parseAddress(addressText);
  if (typeof address === "string") throw lineError(path, line, address);
  if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    throw lineError(path, line, `the secure port ${JSON.stringify(portText)} is not 1 to 65535`);
  }
  let fingerprint: Uint8Array;
  try {
    fingerprint = parseFingerprint(fingerprintText);
  } catch (error) {
    if (!(error instanceof FingerprintSyntaxError)) throw error;
    throw lineError(path, line, `fingerprint ${JSON.stringify(error.text)}: ${error.reason}`);
  }
  const entry: KnownServer = { ...address, securePort: Number(portText), fingerprint, line };
  if (certificateText !== undefined) {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(certificateText) || certificateText.length % 4 !== 0) {
      throw lineError(path, line, "the certificate is not Base64");
    }
    entry.certificate = Uint8Array.from(atob(certificateText), (char) => char.charCodeAt(0));
  }
  return entry;
}

/**
 * Parses the file's text. Checks each line's syntax and that no server is
 * listed twice; {@linkcode loadKnownServers} also checks each certificate
 * against its fingerprint.
 *
 * @param path The file's path, for the messages.
 * @throws {KnownServersSyntaxError} `Cannot parse <path> line <n>: <reason>`.
 */
export function parseKnownServers(text: string, path: string): KnownServer[] {
  const entries: KnownServer[] = [];
  const lineOf = new Map<string, number>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const content = raw.trim();
    if (content === "" || content.startsWith("#")) return;
    const entry = parseLine(content.split(/[ \t]+/), path, index + 1);
    const key = serverAddress(entry.host, entry.port);
    const earlier = lineOf.get(key);
    if (earlier !== undefined) {
      throw lineError(path, index + 1, `${key} is already pinned on line ${earlier}`);
    }
    lineOf.set(key, index + 1);
    entries.push(entry);
  });
  return entries;
}

/** One line for `entry` (without the line end). */
export function formatKnownServer(entry: KnownServer): string {
  const fields = [
    serverAddress(entry.host, entry.port),
    String(entry.securePort),
    formatFingerprint(entry.fingerprint),
  ];
  if (entry.certificate !== undefined) {
    fields.push(btoa(String.fromCharCode(...entry.certificate)));
  }
  return fields.join(" ");
}

/** The entry for `host:port`, if pinned. */
export function findKnownServer(
  entries: readonly KnownServer[],
  host: string,
  port: number,
): KnownServer | undefined {
  const key = serverAddress(host, port);
  return entries.find((entry) => serverAddress(entry.host, entry.port) === key);
}

/**
 * Reads `known_servers` in `folder` (none: an empty list) and checks that
 * each certificate has the fingerprint on its line.
 *
 * @throws {ClientError} (exit code 2) naming the file and line.
 */
export async function loadKnownServers(
  folder: string,
): Promise<{ path: string; entries: KnownServer[] }> {
  const path = join(folder, KNOWN_SERVERS);
  const text = await readOptional(path) ?? "";
  let entries: KnownServer[];
  try {
    entries = parseKnownServers(text, path);
    for (const entry of entries) {
      if (entry.certificate === undefined) continue;
      const actual = await certificateFingerprint(entry.certificate);
      if (formatFingerprint(actual) !== formatFingerprint(entry.fingerprint)) {
        throw lineError(
          path,
          entry.line ?? 0,
          `the certificate's fingerprint is ${formatFingerprint(actual)}, not the one on the line`,
        );
      }
    }
  } catch (error) {
    if (!(error instanceof KnownServersSyntaxError)) throw error;
    throw new ConfigError({
      action: `parse ${error.path} line ${error.line}`,
      reason: error.reason,
      hint: "Fix or delete that line (deleting it forgets the server)",
    }, { cause: error });
  }
  return { path, entries };
}

/**
 * Pins `entry`: replaces the line for its `host:port`, or appends one, and
 * leaves every other line (and comment) as it was. Written atomically.
 *
 * @throws {ClientError} (exit code 2) if the file cannot be read, parsed or
 * written.
 */
export async function pinServer(folder: string, entry: KnownServer): Promise<void> {
  const path = join(folder, KNOWN_SERVERS);
  const text = await readOptional(path);
  const key = serverAddress(entry.host, entry.port);
  const lines = text === undefined ? HEADER.split("\n").slice(0, -1) : text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const at = lines.findIndex((line) => {
    const address = line.trim().split(/[ \t]+/)[0] ?? "";
    const parsed = line.trim().startsWith("#") ? "" : parseAddress(address);
    return typeof parsed !== "string" && serverAddress(parsed.host, parsed.port) === key;
  });
  if (at === -1) lines.push(formatKnownServer(entry));
  else lines[at] = formatKnownServer(entry);
  await writeClientFile(path, lines.join("\n") + "\n");
}
