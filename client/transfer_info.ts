/**
 * Parsing and validating `transfer.info`, with no file system access:
 *
 * ```text
 * line 1: host:port   (IPv4, host name or [IPv6]; port 1 to 65535)
 * line 2: client name (1 to 100 bytes of printable ASCII)
 * line 3: file path   (absolute, or relative to the client's folder); optional
 *                      when files are named on the command line
 * ```
 *
 * Checking the file itself (exists, regular, size) is `upload_file.ts`'s job.
 *
 * @module
 */

import { fileNameProblem, nameProblem } from "../protocol/mod.ts";

/** What `transfer.info` says. */
export interface TransferInfo {
  /** Host name or IP address, without brackets for IPv6. */
  host: string;
  /** TCP port, 1 to 65535. */
  port: number;
  /** The client name. */
  name: string;
  /** The file path exactly as written (the 900/901/902 payload); absent from a 2-line file. */
  filePath: string | undefined;
  /** The 1-based numbers of the lines that had spaces or tabs around them (ignored). */
  trimmedLines: number[];
}

/**
 * A `transfer.info` that does not parse: the file, the line (when one line is
 * at fault) and the reason are kept apart; the message joins them.
 */
export class TransferInfoError extends SyntaxError {
  /** The path of `transfer.info`. */
  readonly file: string;
  /** 1-based number of the line at fault, or `undefined` for the file as a whole. */
  readonly line: number | undefined;
  /** What is wrong, without the file and line. */
  readonly reason: string;

  /**
   * Creates the error; the message names the file and the line.
   *
   * @param file The path of `transfer.info`, for the message.
   * @param line 1-based line number, or `undefined` when no single line is at fault.
   * @param reason What is wrong.
   */
  constructor(file: string, line: number | undefined, reason: string) {
    super(`Cannot read ${file}${line === undefined ? "" : ` line ${line}`}: ${reason}`);
    this.name = "TransferInfoError";
    this.file = file;
    this.line = line;
    this.reason = reason;
  }
}

const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const IPV6 = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/;

/**
 * Why `text` is not `host:port`, or the parsed address.
 *
 * @returns `{ host, port }` or a reason string.
 */
export function parseAddress(text: string): { host: string; port: number } | string {
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close === -1 || text[close + 1] !== ":") {
      return `expected [IPv6]:port, got ${JSON.stringify(text)}`;
    }
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!IPV6.test(host) || !host.includes(":")) {
      return `${JSON.stringify(host)} is not an IPv6 address`;
    }
  } else {
    const colon = text.lastIndexOf(":");
    if (colon === -1) return `expected host:port, got ${JSON.stringify(text)}`;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) return "an IPv6 address must be written in brackets: [::1]:1256";
    if (host.length === 0) return "the host is empty";
    const v4 = IPV4.exec(host);
    if (v4 !== null) {
      if (v4.slice(1).some((part) => Number(part) > 255)) {
        return `${JSON.stringify(host)} is not an IPv4 address`;
      }
    } else if (/^[\d.]+$/.test(host) || !HOST_NAME.test(host)) {
      return `${JSON.stringify(host)} is not a host name or IPv4 address`;
    }
  }
  if (!/^\d{1,5}$/.test(portText)) {
    return `the port ${JSON.stringify(portText)} is not a number from 1 to 65535`;
  }
  const port = Number(portText);
  if (port < 1 || port > 65535) return `the port ${port} is not from 1 to 65535`;
  return { host, port };
}

/** How to parse `transfer.info`. */
export interface ParseTransferInfoOptions {
  /** Files were named on the command line: line 3 may be missing (and is not used). */
  pathsGiven?: boolean;
}

const LINE_ROLES = "host:port, your name, the file to send";

/**
 * Parses the text of `transfer.info`. Accepts `\r\n` line ends, ignores
 * empty lines at the end, and ignores spaces and tabs around every line
 * (reported in `trimmedLines`, so the caller can say so).
 *
 * @param text The file's contents.
 * @param file The file's path, for the messages.
 * @throws {TransferInfoError} naming the file and the first wrong line.
 */
export function parseTransferInfo(
  text: string,
  file: string,
  options: ParseTransferInfoOptions = {},
): TransferInfo {
  const raw = text.split(/\r?\n/);
  while (raw.length > 1 && raw[raw.length - 1]!.trim() === "") raw.pop();
  const lines = raw.map((line) => line.trim());
  const trimmedLines = raw.flatMap((line, i) => line === lines[i] ? [] : [i + 1]);
  if (lines.length > 3) {
    throw new TransferInfoError(file, 4, `expected 3 lines (${LINE_ROLES}), got more`);
  }
  const address = parseAddress(lines[0] ?? "");
  if (typeof address === "string") throw new TransferInfoError(file, 1, address);
  const name = lines[1] ?? "";
  const problem = nameProblem(name);
  if (problem !== undefined) {
    throw new TransferInfoError(file, 2, `${problem} (1 to 100 bytes of printable ASCII)`);
  }
  if (lines.length < 3) {
    if (options.pathsGiven) {
      return { host: address.host, port: address.port, name, filePath: undefined, trimmedLines };
    }
    throw new TransferInfoError(
      file,
      undefined,
      `it has ${lines.length} lines, but needs 3 (${LINE_ROLES}); ` +
        `line 2, ${JSON.stringify(name)}, is read as your name`,
    );
  }
  const filePath = lines[2]!;
  const baseProblem = fileNameProblem(baseName(filePath));
  if (baseProblem !== undefined) throw new TransferInfoError(file, 3, baseProblem);
  return { host: address.host, port: address.port, name, filePath, trimmedLines };
}

/** The last component of a `/` or `\` separated path. */
export function baseName(path: string): string {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return path.slice(cut + 1);
}
