/**
 * The file to send, checked before anything goes on the wire: it exists, it
 * is a regular readable file, it is at most 800 MB, and its base name is a
 * valid file name. Its size and modification time are kept so that a change
 * while it is read can be noticed.
 *
 * @module
 */

import { isAbsolute, resolve } from "node:path";
import { DEFAULT_MAX_FILE_SIZE, fileNameProblem } from "../protocol/mod.ts";
import { ClientError, ExitCode } from "./client_error.ts";
import { baseName } from "./transfer_info.ts";

/** A checked file, ready to send. */
export interface UploadFile {
  /** The absolute path to read. */
  path: string;
  /** The path as written in `transfer.info` (sent in 900/901/902). */
  pathAsWritten: string;
  /** The base name, sent in the packets. */
  name: string;
  /** Size in bytes when checked. */
  size: number;
  /** Modification time when checked, in ms since the epoch, or `null`. */
  mtime: number | null;
}

/**
 * Resolves `pathAsWritten` against `folder` and checks the file.
 *
 * @param infoFile The path of `transfer.info`, for the messages.
 * @throws {ClientError} (exit code 2) naming the file and what to do.
 */
export async function checkUploadFile(
  folder: string,
  pathAsWritten: string,
  infoFile: string,
  maxFileSize: number = DEFAULT_MAX_FILE_SIZE,
): Promise<UploadFile> {
  const path = isAbsolute(pathAsWritten) ? pathAsWritten : resolve(folder, pathAsWritten);
  const where = `${infoFile} line 3`;
  const fail = (reason: string, cause?: unknown) =>
    new ClientError(
      ExitCode.Config,
      `Cannot send ${path} (${where}): ${reason}. Fix the path in ${infoFile}`,
      cause === undefined ? undefined : { cause },
    );
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw fail("the file does not exist", error);
    throw fail((error as Error).message, error);
  }
  if (!info.isFile) throw fail("it is not a regular file");
  if (info.size > maxFileSize) {
    throw fail(`it has ${info.size} bytes, more than the limit of ${maxFileSize}`);
  }
  try {
    (await Deno.open(path, { read: true })).close();
  } catch (error) {
    throw fail(`it is not readable (${(error as Error).message})`, error);
  }
  const name = baseName(path);
  const problem = fileNameProblem(name);
  if (problem !== undefined) throw fail(problem);
  return { path, pathAsWritten, name, size: info.size, mtime: info.mtime?.getTime() ?? null };
}
