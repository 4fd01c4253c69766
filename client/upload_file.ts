/**
 * The file to send, checked before anything goes on the wire: it exists, it
 * is a regular readable file, its size fits what the protocol carries (about
 * 4.29 GB; the server's own limit is the server's to say), and its base name is a
 * valid file name; each refusal says what to do about it. Its size and
 * modification time are kept so that a change while it is read can be
 * noticed.
 *
 * @module
 */

import { errorMessage } from "../common/error_message.ts";
import { isAbsolute, resolve } from "node:path";
import { fileNameProblem, MAX_ENCODABLE_FILE_SIZE } from "../protocol/mod.ts";
import { ConfigError } from "./client_error.ts";
import { formatBytes } from "../common/units.ts";
import { baseName } from "./transfer_info.ts";

/** A checked file, ready to send. */
export interface UploadFile {
  /** The absolute path to read. */
  path: string;
  /** The path as written in `transfer.info` or on the command line (sent in 900/901/902). */
  pathAsWritten: string;
  /** The base name, sent in the packets. */
  name: string;
  /**
   * The path to store it under on the server: its name, or, for a file
   * found in a folder, its path from the folder's parent (`photos/2024/a.jpg`).
   */
  storedPath: string;
  /** Size in bytes when checked. */
  size: number;
  /** Modification time when checked, in ms since the epoch, or `null`. */
  mtime: number | null;
}

/** A size in human units, with the exact count when the rounding hides a difference. */
function exactSize(bytes: number): string {
  return `${formatBytes(bytes, { fixed: true })} (${bytes} bytes)`;
}

/**
 * Resolves `pathAsWritten` against `base` and checks the file.
 *
 * @param base The folder a relative path is relative to.
 * @param source Where the path was written, for the messages:
 * `/x/transfer.info line 3`, or `the command line`.
 * @throws {ConfigError} naming the file, what is wrong and what to do.
 */
export async function checkUploadFile(
  base: string,
  pathAsWritten: string,
  source: string,
  maxFileSize: number = MAX_ENCODABLE_FILE_SIZE,
): Promise<UploadFile> {
  const path = isAbsolute(pathAsWritten) ? pathAsWritten : resolve(base, pathAsWritten);
  const fail = (reason: string, hint: string, cause?: unknown) =>
    new ConfigError(
      { action: `send ${path} (${source})`, reason, hint },
      cause === undefined ? undefined : { cause },
    );
  const fixPath = `Fix the path on ${source}`;
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw fail("the file does not exist", fixPath, error);
    }
    throw fail(errorMessage(error), fixPath, error);
  }
  if (!info.isFile) throw fail("it is not a regular file", `${fixPath} to name a file`);
  if (info.size > maxFileSize) {
    throw fail(
      `it is ${exactSize(info.size)}, more than the protocol's 4-byte sizes carry ` +
        `(${exactSize(maxFileSize)})`,
      "Split it into smaller files, or compress it, and send those",
    );
  }
  try {
    (await Deno.open(path, { read: true })).close();
  } catch (error) {
    throw fail(
      `it is not readable (${errorMessage(error)})`,
      "Make the file readable by the user running the client",
      error,
    );
  }
  const name = baseName(path);
  const problem = fileNameProblem(name);
  if (problem !== undefined) {
    throw fail(problem, "Rename the file (or send a copy under another name)");
  }
  return {
    path,
    pathAsWritten,
    name,
    storedPath: name,
    size: info.size,
    mtime: info.mtime?.getTime() ?? null,
  };
}
