/**
 * The local file store's folders: made private (folders 0700, files 0600,
 * whatever the umask), a stored path's folders made and removed when empty,
 * the stored paths of a client listed, and a folder synced after a rename.
 *
 * | function              | what                                                          |
 * | --------------------- | ------------------------------------------------------------- |
 * | `makePrivateFolder`   | a folder (and its parents) 0700                               |
 * | `makeContentsPrivate` | the client folders below the root 0700, what they hold 0600   |
 * | `makePathFolders`     | a location's folders below its client's folder, each 0700     |
 * | `removeEmptyFolders`  | a location's folders that are now empty, deepest first        |
 * | `storedPaths`         | the stored paths below a client's folder, staged files left out |
 * | `syncFolder`          | fsync of a folder, so that a rename in it survives a power loss |
 *
 * @module
 */

import { join } from "node:path";
import { isClientFolder, isTemporaryName, parseLocation } from "./stored_path.ts";

/** Whether file modes can be set (not on Windows). */
export const CAN_CHMOD = Deno.build.os !== "windows";

/** Creates `path` (and its parents) if needed and makes it 0700. */
export async function makePrivateFolder(path: string): Promise<void> {
  await Deno.mkdir(path, { recursive: true, mode: 0o700 });
  if (CAN_CHMOD) await Deno.chmod(path, 0o700);
}

/** Makes `path` `mode` if it is not. */
async function tighten(path: string, mode: number): Promise<void> {
  const { mode: current } = await Deno.lstat(path);
  if (current !== null && (current & 0o777) !== mode) await Deno.chmod(path, mode);
}

/** Makes the folder `path` and every folder below it 0700, and their files 0600. */
async function makeTreePrivate(path: string): Promise<void> {
  await tighten(path, 0o700);
  for await (const entry of Deno.readDir(path)) {
    if (entry.isFile) await tighten(join(path, entry.name), 0o600);
    else if (entry.isDirectory) await makeTreePrivate(join(path, entry.name));
  }
}

/** Makes the client folders below `root` 0700 and what they hold private, where it is not. */
export async function makeContentsPrivate(root: string): Promise<void> {
  for await (const folder of Deno.readDir(root)) {
    if (folder.isDirectory && isClientFolder(folder.name)) {
      await makeTreePrivate(join(root, folder.name));
    }
  }
}

/**
 * Makes the folders of a location's path below its client's folder (which
 * exists), each 0700; folders already there are left as they are.
 */
export async function makePathFolders(root: string, location: string): Promise<void> {
  const { folder, path } = parseLocation(location);
  const components = path.split("/").slice(0, -1);
  let current = join(root, folder);
  for (const component of components) {
    current = join(current, component);
    try {
      await Deno.mkdir(current, { mode: 0o700 });
      if (CAN_CHMOD) await Deno.chmod(current, 0o700);
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    }
  }
}

/** Removes the folders of a location's path that are now empty, deepest first (best effort). */
export async function removeEmptyFolders(root: string, location: string): Promise<void> {
  const { folder, path } = parseLocation(location);
  const components = path.split("/").slice(0, -1);
  while (components.length > 0) {
    try {
      await Deno.remove(join(root, folder, ...components));
    } catch {
      return; // not empty, or already gone
    }
    components.pop();
  }
}

/** The stored paths below a client's folder, staged files left out. */
export async function storedPaths(folder: string, prefix = ""): Promise<string[]> {
  const paths: string[] = [];
  for await (const entry of Deno.readDir(folder)) {
    if (entry.isFile && !isTemporaryName(entry.name)) paths.push(prefix + entry.name);
    else if (entry.isDirectory) {
      paths.push(...await storedPaths(join(folder, entry.name), `${prefix}${entry.name}/`));
    }
  }
  return paths;
}

/** Syncs a folder so that a rename in it survives a power loss (best effort). */
export async function syncFolder(path: string): Promise<void> {
  if (Deno.build.os === "windows") return;
  try {
    using folder = await Deno.open(path, { read: true });
    await folder.sync();
  } catch {
    // Some file systems cannot sync a folder; the rename itself is atomic.
  }
}
