/**
 * The files a folder sends: every regular file below it, each to be stored
 * under its path from the folder's parent (`client photos` sends
 * `photos/2024/a.jpg`), in name order. Symbolic links are not followed
 * (they are reported, not sent); every component of every path is checked by
 * the protocol's name rules before anything is sent.
 *
 * @example
 * ```ts
 * import { scanFolder } from "./folder_files.ts";
 *
 * const root = await Deno.makeTempDir();
 * await Deno.mkdir(`${root}/photos/2024`, { recursive: true });
 * await Deno.writeTextFile(`${root}/photos/2024/a.jpg`, "a");
 * const scan = await scanFolder(`${root}/photos`, "photos", "the command line");
 * console.log(scan.files.map((file) => file.storedPath)); // ["photos/2024/a.jpg"]
 * await Deno.remove(root, { recursive: true });
 * ```
 *
 * @module
 */

import { basename, join } from "node:path";
import { filePathProblem } from "../protocol/mod.ts";
import { ConfigError } from "./client_error.ts";
import { checkUploadFile, type UploadFile } from "./upload_file.ts";

/** Deepest folder tree walked (the stored path limit). */
const MAX_DEPTH = 32;

/** What a folder holds to send, and what it holds that is not sent. */
export interface FolderScan {
  /** The regular files, with their stored paths. */
  files: UploadFile[];
  /** Symbolic links found (not followed), as paths. */
  symlinks: string[];
  /** Files that cannot be sent as they are: the path and why. */
  refused: Array<{ named: string; error: ConfigError }>;
}

/**
 * Lists what the folder `dir` (absolute) sends.
 *
 * @param pathAsWritten The folder as the user named it.
 * @param source Where it was named, for the messages.
 * @throws {ConfigError} if the folder cannot be read.
 */
export async function scanFolder(
  dir: string,
  pathAsWritten: string,
  source: string,
): Promise<FolderScan> {
  const scan: FolderScan = { files: [], symlinks: [], refused: [] };
  await walk(dir, [basename(dir)], join(pathAsWritten), source, scan);
  return scan;
}

async function walk(
  dir: string,
  stored: string[],
  written: string,
  source: string,
  scan: FolderScan,
): Promise<void> {
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dir));
  } catch (error) {
    throw new ConfigError({
      action: `read the folder ${dir} (${source})`,
      reason: (error as Error).message,
      hint: "Check the folder's permissions",
    }, { cause: error });
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    const storedPath = [...stored, entry.name];
    const asWritten = join(written, entry.name);
    if (entry.isSymlink) {
      scan.symlinks.push(path);
    } else if (entry.isDirectory) {
      if (storedPath.length >= MAX_DEPTH) {
        scan.refused.push({ named: asWritten, error: tooDeep(path, source) });
        continue;
      }
      await walk(path, storedPath, asWritten, source, scan);
    } else if (entry.isFile) {
      await addFile(path, asWritten, storedPath.join("/"), source, scan);
    }
  }
}

async function addFile(
  path: string,
  asWritten: string,
  storedPath: string,
  source: string,
  scan: FolderScan,
): Promise<void> {
  try {
    const file = await checkUploadFile("/", path, source);
    const problem = filePathProblem(storedPath);
    if (problem !== undefined) {
      throw new ConfigError({
        action: `send ${path} (${source})`,
        reason: `its path ${JSON.stringify(storedPath)} cannot be stored: ${problem}`,
        hint: "Rename it (or the folder holding it), or send it on its own",
      });
    }
    scan.files.push({ ...file, pathAsWritten: asWritten, storedPath });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    scan.refused.push({ named: asWritten, error });
  }
}

function tooDeep(path: string, source: string): ConfigError {
  return new ConfigError({
    action: `send the folder ${path} (${source})`,
    reason: `it is more than ${MAX_DEPTH} folders deep`,
    hint: "Send a folder further down on its own",
  });
}
