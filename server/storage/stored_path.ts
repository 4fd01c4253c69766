/**
 * Where a stored file lives, the same in every file store: its location is
 * `<client id hex>/<path>`, and `path` is one file name or folders and a name
 * (`photos/2024/cat.jpg`) below the client's folder. A local folder makes the
 * folders; S3 uses the location as the object key.
 *
 * Every store builds and reads locations only through this module, so no
 * path can leave its client's folder, whatever the caller checked before:
 *
 * | rule | checked by |
 * |---|---|
 * | each component a safe file name (no `.`, `..`, `\`, controls, ...) | `filePathProblem` (protocol/names.ts) |
 * | no leading `/`, no empty component, at most 1024 bytes, 32 components | `filePathProblem` |
 * | Unicode normalisation form C (one name typed on two systems is one file) | {@linkcode storedPathProblem} |
 * | no component of the form of a staged file (`~upload-<16 hex>.partial`) | {@linkcode storedPathProblem} |
 *
 * @example
 * ```ts
 * import { parseLocation, storedLocation } from "./stored_path.ts";
 *
 * const location = storedLocation(new Uint8Array(16), "photos/cat.jpg");
 * console.log(location); // 00000000000000000000000000000000/photos/cat.jpg
 * console.log(parseLocation(location).path); // photos/cat.jpg
 * ```
 *
 * @module
 */

import { type ClientId, clientIdToHex, filePathProblem } from "../../protocol/mod.ts";

const TEMPORARY_NAME = /^~upload-[0-9a-f]{16}\.partial$/;
const CLIENT_FOLDER = /^[0-9a-f]{32}$/;

/** Whether `name` has the form of a staged (temporary) upload file. */
export function isTemporaryName(name: string): boolean {
  return TEMPORARY_NAME.test(name);
}

/** Whether `name` is a client folder's name: 32 lowercase hexadecimal digits. */
export function isClientFolder(name: string): boolean {
  return CLIENT_FOLDER.test(name);
}

/**
 * Why `path` cannot be stored below a client's folder, or `undefined` when
 * it can (see the module documentation for the rules).
 */
export function storedPathProblem(path: string): string | undefined {
  const problem = filePathProblem(path);
  if (problem !== undefined) return problem;
  if (path.normalize("NFC") !== path) return "the path is not in Unicode normalisation form C";
  if (path.split("/").some(isTemporaryName)) {
    return "the path has a name reserved for temporary files";
  }
  return undefined;
}

/**
 * The location of `path` for `clientId`: `<client id hex>/<path>`.
 *
 * @throws {RangeError} `Cannot store <path>: <reason>` when the path breaks a rule.
 */
export function storedLocation(clientId: ClientId, path: string): string {
  const problem = storedPathProblem(path);
  if (problem !== undefined) {
    throw new RangeError(`Cannot store ${JSON.stringify(path)}: ${problem}`);
  }
  return `${clientIdToHex(clientId)}/${path}`;
}

/**
 * Reads a location back (from the registry, an intent, an object key):
 * the client folder and the path, both checked.
 *
 * @throws {RangeError} `Cannot use <location>: <reason>` when it is not
 * `<client id hex>/<valid path>`.
 */
export function parseLocation(location: string): { folder: string; path: string } {
  const slash = location.indexOf("/");
  const folder = location.slice(0, slash);
  if (slash < 0 || !isClientFolder(folder)) {
    throw new RangeError(`Cannot use ${JSON.stringify(location)}: not <client id hex>/<path>`);
  }
  const path = location.slice(slash + 1);
  const problem = storedPathProblem(path);
  if (problem !== undefined) {
    throw new RangeError(`Cannot use ${JSON.stringify(location)}: ${problem}`);
  }
  return { folder, path };
}
