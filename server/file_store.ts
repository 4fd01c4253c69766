/**
 * Where uploads land on disk: `received_files/<client id hex>/<file name>`,
 * written first to a temporary file in the same folder and renamed over the
 * final name only once the cksum matched.
 *
 * Temporary names look like `~upload-<16 hex digits>.partial`. A client may
 * not upload a file under such a name, so removing every such file at
 * start-up never removes a kept file.
 *
 * @module
 */

import { join } from "node:path";
import { bytesToHex, type ClientId, clientIdToHex } from "../protocol/mod.ts";

/** Name of the uploads folder inside the data folder. */
export const RECEIVED_FILES_DIR = "received_files";

const TEMPORARY_NAME = /^~upload-[0-9a-f]{16}\.partial$/;

/**
 * Storing an upload failed on the server's side (disk full, folder
 * unwritable, final name taken by a folder): not the client's fault.
 */
export class StorageError extends Error {
  /**
   * Creates the error.
   *
   * @param message `Cannot store <name>: <reason>`.
   * @param options Standard error options; `cause` is the file system error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StorageError";
  }
}

/** Whether `name` has the form of a temporary upload file. */
export function isTemporaryName(name: string): boolean {
  return TEMPORARY_NAME.test(name);
}

/** The folder holding the files of one client. */
export function clientFolder(receivedDir: string, clientId: ClientId): string {
  return join(receivedDir, clientIdToHex(clientId));
}

/** A fresh temporary file path inside `folder`. */
export function temporaryPath(folder: string): string {
  const random = bytesToHex(crypto.getRandomValues(new Uint8Array(8)));
  return join(folder, `~upload-${random}.partial`);
}

/**
 * Removes the temporary files that a crash or a kill left in the client
 * folders of `receivedDir`. Returns the paths it removed.
 */
export async function removeStaleTemporaryFiles(receivedDir: string): Promise<string[]> {
  const removed: string[] = [];
  for await (const folder of Deno.readDir(receivedDir)) {
    if (!folder.isDirectory || !/^[0-9a-f]{32}$/.test(folder.name)) continue;
    const folderPath = join(receivedDir, folder.name);
    for await (const entry of Deno.readDir(folderPath)) {
      if (entry.isFile && isTemporaryName(entry.name)) {
        const path = join(folderPath, entry.name);
        await Deno.remove(path);
        removed.push(path);
      }
    }
  }
  return removed;
}
