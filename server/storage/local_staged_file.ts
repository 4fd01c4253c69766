/**
 * One upload of {@linkcode LocalFileStore} staged in a temporary file,
 * `<client id hex>/~upload-<16 hex digits>.partial` below the root; its
 * commit makes the path's folders, renames it over the final name (atomic on
 * one file system) and syncs the folder.
 *
 * | call      | the staged file                                      |
 * | --------- | ---------------------------------------------------- |
 * | `write`   | appended to                                          |
 * | `seal`    | synced and closed                                    |
 * | `commit`  | renamed to the location; its folder synced           |
 * | `suspend` | synced and closed, kept for a resume: its size kept  |
 * | `discard` | closed and removed                                   |
 *
 * @module
 */

import { join } from "node:path";
import { writeAll } from "../../common/write_all.ts";
import type { KeptPrefix, StagedFile } from "./file_store.ts";
import type { HeldStaging } from "./held_staging.ts";
import { makePathFolders, syncFolder } from "./local_folders.ts";

/** An upload staged in a temporary file below the store's root. */
export class LocalStagedFile implements StagedFile {
  readonly location: string;
  readonly stagingRef: string;
  readonly #root: string;
  readonly #held: HeldStaging | undefined;
  #released = false;
  #file: Deno.FsFile | undefined;

  /**
   * Stages into `file`, at `stagingRef` below `root`, for `location`.
   *
   * @param root The store's root folder.
   * @param location Where the file goes on commit, relative to the root.
   * @param stagingRef The staged file, relative to the root.
   * @param file The staged file, open for writing.
   * @param held Where the store counts it held until it is committed,
   * discarded or suspended (for the running sweep); already marked held.
   */
  constructor(
    root: string,
    location: string,
    stagingRef: string,
    file: Deno.FsFile,
    held?: HeldStaging,
  ) {
    this.#root = root;
    this.location = location;
    this.stagingRef = stagingRef;
    this.#file = file;
    this.#held = held;
  }

  async write(bytes: Uint8Array): Promise<void> {
    await writeAll(this.#open("write"), bytes);
  }

  async seal(): Promise<void> {
    const file = this.#open("seal");
    await file.sync();
    file.close();
    this.#file = undefined;
  }

  async commit(): Promise<void> {
    if (this.#file !== undefined) throw new Error("Cannot commit: the staged file is not sealed");
    const final = join(this.#root, this.location);
    await makePathFolders(this.#root, this.location);
    await Deno.rename(join(this.#root, this.stagingRef), final);
    this.#letGo();
    await syncFolder(join(final, ".."));
  }

  async suspend(): Promise<KeptPrefix> {
    const file = this.#open("suspend");
    try {
      await file.sync();
      const { size } = await file.stat();
      return { length: size };
    } finally {
      file.close();
      this.#file = undefined;
      this.#letGo();
    }
  }

  async discard(): Promise<void> {
    try {
      this.#file?.close();
    } catch { /* already closed */ }
    this.#file = undefined;
    try {
      await Deno.remove(join(this.#root, this.stagingRef)).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    } finally {
      // A removal that failed leaves an orphan: the running sweep's.
      this.#letGo();
    }
  }

  /** Ends the hold, once. */
  #letGo(): void {
    if (this.#released) return;
    this.#released = true;
    this.#held?.letGo(this.stagingRef);
  }

  #open(action: string): Deno.FsFile {
    if (this.#file === undefined) {
      throw new Error(`Cannot ${action}: the staged file is already sealed or discarded`);
    }
    return this.#file;
  }
}
