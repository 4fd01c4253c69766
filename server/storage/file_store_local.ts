/**
 * The default {@linkcode FileStore}: a local folder,
 * `received_files/<client id hex>/<path>`, where the path is a file name or
 * folders and a name (`photos/cat.jpg`, checked by `stored_path.ts`).
 *
 * An upload is staged in a temporary file at the top of its client's folder,
 * named `~upload-<16 hex digits>.partial`; committing makes the path's
 * folders, renames the staged file over the final name (atomic on one file
 * system) and syncs the folder. No stored path may hold a name of that form,
 * so removing temporary files never removes a stored file.
 *
 * While the server runs, {@linkcode LocalFileStore.sweepStaged} removes the
 * temporary files no live upload of this process holds, no kept partial
 * upload names, and nobody wrote to for longer than the sweep's age (a
 * discard that failed, an upload a bug forgot); at start-up
 * {@linkcode LocalFileStore.removeAbandoned} removes every one not kept.
 *
 * Locations and staging references are paths relative to the root,
 * `<client id hex>/<path>`, so the data folder may move.
 *
 * Its parts: the folders and their modes (`local_folders.ts`), one staged
 * upload (`local_staged_file.ts`) and one read (`local_file_reader.ts`).
 *
 * Files are created 0600 and folders (the client's and those of its paths)
 * 0700, whatever the umask: stored files are their owners' business only.
 *
 * @example
 * ```ts
 * import { LocalFileStore } from "./file_store_local.ts";
 *
 * const root = await Deno.makeTempDir();
 * const store = await LocalFileStore.open(root);
 * const staged = await store.begin(new Uint8Array(16), "hello.txt");
 * await staged.write(new TextEncoder().encode("hello"));
 * await staged.seal();
 * await staged.commit();
 * console.log(await store.list(new Uint8Array(16))); // ["hello.txt"]
 * await store.close();
 * await Deno.remove(root, { recursive: true });
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { exists } from "../../common/exists.ts";
import { bytesToHex, type ClientId, clientIdToHex } from "../../protocol/mod.ts";
import {
  type FileStore,
  type StagedFile,
  type StagedSweepRule,
  type StoredFileReader,
  SWEEP_LOOK_AT,
  SWEEP_REMOVE,
} from "./file_store.ts";
import { HeldStaging } from "./held_staging.ts";
import type { CommitIntent } from "./registry.ts";
import { LocalFileReader } from "./local_file_reader.ts";
import {
  CAN_CHMOD,
  makeContentsPrivate,
  makePathFolders,
  makePrivateFolder,
  removeEmptyFolders,
  storedPaths,
  syncFolder,
} from "./local_folders.ts";
import { LocalStagedFile } from "./local_staged_file.ts";
import { isClientFolder, isTemporaryName, parseLocation, storedLocation } from "./stored_path.ts";

export { makePrivateFolder } from "./local_folders.ts";
export { isTemporaryName } from "./stored_path.ts";

/** Name of the uploads folder inside the data folder. */
export const RECEIVED_FILES_DIR = "received_files";

/** Bytes read per piece when a staged file is read back (a resume). */
const READ_BACK_SIZE = 1024 * 1024;

/** Checks that a staging reference is `<client id hex>/~upload-<16 hex digits>.partial`. */
function checkStagingRef(ref: string): void {
  const [folder, name, ...rest] = ref.split("/");
  if (
    rest.length > 0 || folder === undefined || !isClientFolder(folder) ||
    name === undefined || !isTemporaryName(name)
  ) {
    throw new RangeError(`Cannot use ${JSON.stringify(ref)}: not a staged file's reference`);
  }
}

/** Checks that a staging reference is a staged file in `clientId`'s folder. */
function checkOwnStagingRef(clientId: ClientId, ref: string): void {
  checkStagingRef(ref);
  if (!ref.startsWith(`${clientIdToHex(clientId)}/`)) {
    throw new RangeError(`Cannot use ${JSON.stringify(ref)}: not this client's staged file`);
  }
}

/** A {@linkcode FileStore} over a local folder. */
export class LocalFileStore implements FileStore {
  /** The root folder (`received_files`). */
  readonly root: string;
  /** The staged files this process's live uploads hold (for the running sweep). */
  readonly #held = new HeldStaging();
  /** Where the running sweep stopped: the last client folder it looked into. */
  #sweptUpTo = "";

  private constructor(root: string) {
    this.root = root;
  }

  /**
   * Opens the store at `root`, creating the folder if needed. The folder and
   * what is in it are made private (folders 0700, files 0600), which also
   * tightens what an older version stored under umask 022.
   */
  static async open(root: string): Promise<LocalFileStore> {
    await makePrivateFolder(root);
    if (CAN_CHMOD) await makeContentsPrivate(root);
    return new LocalFileStore(root);
  }

  async begin(clientId: ClientId, fileName: string): Promise<StagedFile> {
    const folder = clientIdToHex(clientId);
    const location = storedLocation(clientId, fileName);
    await makePrivateFolder(join(this.root, folder));
    const stagingRef = `${folder}/~upload-${
      bytesToHex(crypto.getRandomValues(new Uint8Array(8)))
    }.partial`;
    const path = join(this.root, stagingRef);
    const file = await Deno.open(path, { write: true, createNew: true, mode: 0o600 });
    try {
      if (CAN_CHMOD) await Deno.chmod(path, 0o600);
    } catch (error) {
      file.close();
      await Deno.remove(path).catch(() => {});
      throw error;
    }
    this.#held.hold(stagingRef);
    return new LocalStagedFile(this.root, location, stagingRef, file, this.#held);
  }

  holdStaged(stagingRef: string): () => void {
    return this.#held.holdUntil(stagingRef);
  }

  async resume(
    clientId: ClientId,
    fileName: string,
    stagingRef: string,
    length: number,
  ): Promise<StagedFile> {
    checkOwnStagingRef(clientId, stagingRef);
    const location = storedLocation(clientId, fileName);
    const file = await Deno.open(join(this.root, stagingRef), { write: true });
    try {
      const { size } = await file.stat();
      if (size < length) {
        throw new RangeError(`Cannot resume ${stagingRef}: it holds ${size} bytes, not ${length}`);
      }
      await file.truncate(length);
      await file.seek(length, Deno.SeekMode.Start);
    } catch (error) {
      file.close();
      throw error;
    }
    this.#held.hold(stagingRef);
    return new LocalStagedFile(this.root, location, stagingRef, file, this.#held);
  }

  async *readStaged(
    clientId: ClientId,
    _fileName: string,
    stagingRef: string,
    length: number,
  ): AsyncIterable<Uint8Array> {
    checkOwnStagingRef(clientId, stagingRef);
    using file = await Deno.open(join(this.root, stagingRef), { read: true });
    const buffer = new Uint8Array(READ_BACK_SIZE);
    let left = length;
    while (left > 0) {
      const n = await file.read(buffer.subarray(0, Math.min(left, buffer.length)));
      if (n === null) {
        throw new RangeError(`Cannot read ${stagingRef}: it ends ${left} bytes before ${length}`);
      }
      left -= n;
      yield buffer.subarray(0, n);
    }
  }

  async discardStaged(clientId: ClientId, _fileName: string, stagingRef: string): Promise<void> {
    checkOwnStagingRef(clientId, stagingRef);
    await Deno.remove(join(this.root, stagingRef)).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }

  async recover(intent: CommitIntent): Promise<"committed" | "discarded"> {
    parseLocation(intent.location);
    checkStagingRef(intent.stagingRef);
    const staged = join(this.root, intent.stagingRef);
    const final = join(this.root, intent.location);
    // The intent is deleted before a staged file is discarded, so a staged
    // file that is gone was renamed: the commit reached its final place.
    if (await exists(staged)) {
      try {
        await makePathFolders(this.root, intent.location);
        await Deno.rename(staged, final);
      } catch {
        // The final name cannot be written (a folder in the way): as at run time,
        // the commit fails and the older file, if any, stays.
        await Deno.remove(staged).catch(() => {});
        return "discarded";
      }
      await syncFolder(join(final, ".."));
      return "committed";
    }
    return await exists(final) ? "committed" : "discarded";
  }

  async removeAbandoned(
    isLive: (stagingRef: string) => boolean | Promise<boolean>,
  ): Promise<string[]> {
    const removed: string[] = [];
    for await (const folder of Deno.readDir(this.root)) {
      if (!folder.isDirectory || !isClientFolder(folder.name)) continue;
      for await (const entry of Deno.readDir(join(this.root, folder.name))) {
        const ref = `${folder.name}/${entry.name}`;
        if (entry.isFile && isTemporaryName(entry.name) && !(await isLive(ref))) {
          await Deno.remove(join(this.root, ref));
          removed.push(join(this.root, ref));
        }
      }
    }
    return removed;
  }

  /**
   * Removes the temporary files that no live upload of this process holds
   * (nor let go less than `olderThanMs` ago), that no kept partial upload
   * names, and that were last written more than `olderThanMs` ago. Looks
   * into the client folders in name order from where the last call stopped,
   * at most {@linkcode SWEEP_LOOK_AT} entries and {@linkcode SWEEP_REMOVE}
   * removals per call.
   */
  async sweepStaged(rule: StagedSweepRule): Promise<string[]> {
    const now = Date.now();
    this.#held.prune(rule.olderThanMs, now);
    const folders: string[] = [];
    try {
      for await (const entry of Deno.readDir(this.root)) {
        if (entry.isDirectory && isClientFolder(entry.name)) folders.push(entry.name);
      }
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return []; // no folder: nothing staged
      throw error;
    }
    folders.sort();
    const start = folders.findIndex((name) => name > this.#sweptUpTo);
    const order = start < 0 ? folders : [...folders.slice(start), ...folders.slice(0, start)];
    const removed: string[] = [];
    let looked = 0;
    for (const folder of order) {
      if (looked >= SWEEP_LOOK_AT || removed.length >= SWEEP_REMOVE) break;
      this.#sweptUpTo = folder;
      try {
        for await (const entry of Deno.readDir(join(this.root, folder))) {
          if (++looked > SWEEP_LOOK_AT || removed.length >= SWEEP_REMOVE) break;
          const ref = `${folder}/${entry.name}`;
          if (!entry.isFile || !isTemporaryName(entry.name)) continue;
          if (this.#held.holds(ref, rule.olderThanMs, now) || rule.isKept(ref)) continue;
          if (await this.#removeIfOlder(ref, rule.olderThanMs, now)) {
            removed.push(join(this.root, ref));
          }
        }
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error; // the folder went meanwhile
      }
    }
    return removed;
  }

  /** Removes the staged file `ref` if it was last written more than `ms` before `now`. */
  async #removeIfOlder(ref: string, ms: number, now: number): Promise<boolean> {
    const path = join(this.root, ref);
    try {
      const written = (await Deno.stat(path)).mtime?.getTime() ?? now;
      if (now - written <= ms) return false;
      await Deno.remove(path);
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false; // gone meanwhile
      throw error;
    }
  }

  async delete(location: string): Promise<void> {
    parseLocation(location);
    await Deno.remove(join(this.root, location)).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    await removeEmptyFolders(this.root, location);
  }

  async list(clientId: ClientId): Promise<string[]> {
    try {
      return (await storedPaths(join(this.root, clientIdToHex(clientId)))).sort();
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      return [];
    }
  }

  /** The path of the file at `location`, below the root. */
  describe(location: string): string {
    return join(this.root, location);
  }

  async openRead(location: string, offset: number): Promise<StoredFileReader | undefined> {
    parseLocation(location);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(join(this.root, location), { read: true });
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    try {
      const info = await file.stat();
      if (!info.isFile) {
        file.close();
        return undefined;
      }
      if (offset > 0) await file.seek(Math.min(offset, info.size), Deno.SeekMode.Start);
      return new LocalFileReader(file, info.size);
    } catch (error) {
      file.close();
      throw error;
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
