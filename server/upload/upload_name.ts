/**
 * The name an upload is stored under, from its 255-byte packet field: a safe
 * single path component (`fileNameProblem` in protocol/names.ts), in Unicode
 * normalisation form C, and never the form of a staged file's name. The
 * reference dialect's 828 carries one component only, so its `/` is refused.
 *
 * Requests of our own that carry a path (folders and a name, `sub/cat.jpg`)
 * take it through {@linkcode uploadFilePath}: the same rules for each
 * component, and no `..`, leading `/` or empty component.
 *
 * Names are stored in NFC so that one name typed on two systems (macOS
 * decomposes accents, most others compose them) is one file, not two that
 * look alike. The 1603 still echoes the field as the client sent it.
 *
 * @example
 * ```ts
 * import { uploadFileName } from "./upload_name.ts";
 * import { encodeFileNameField } from "../../protocol/mod.ts";
 *
 * const decomposed = "cafe\u0301.txt"; // "e" + combining acute accent
 * console.log(uploadFileName(encodeFileNameField(decomposed)) === "caf\u00e9.txt"); // true
 * ```
 *
 * @module
 */

import { decodeFileNameField, fileNameProblem, ProtocolError } from "../../protocol/mod.ts";
import { isTemporaryName, storedPathProblem } from "../storage/stored_path.ts";

/**
 * Decodes, checks and normalises an upload's file name field.
 *
 * @throws {ProtocolError} if the name is not a safe file name, or has the
 * form reserved for staged files.
 */
export function uploadFileName(field: Uint8Array): string {
  const name = decodeFileNameField(field).normalize("NFC");
  const problem = fileNameProblem(name);
  if (problem !== undefined) throw new ProtocolError(`Cannot accept upload: ${problem}`);
  if (isTemporaryName(name)) {
    throw new ProtocolError("Cannot accept upload: the file name is reserved for temporary files");
  }
  return name;
}

/**
 * Checks and normalises a stored path relative to the client's folder
 * (`photos/2024/cat.jpg`): NFC, each component by the upload name rules,
 * none of the form of a staged file (see `server/storage/stored_path.ts`).
 *
 * @example
 * ```ts
 * import { uploadFilePath } from "./upload_name.ts";
 *
 * console.log(uploadFilePath("photos/cafe\u0301.jpg") === "photos/caf\u00e9.jpg"); // true
 * ```
 *
 * @throws {ProtocolError} `Cannot accept upload: <reason>` if the path breaks a rule.
 */
export function uploadFilePath(path: string): string {
  const normalised = path.normalize("NFC");
  const problem = storedPathProblem(normalised);
  if (problem !== undefined) throw new ProtocolError(`Cannot accept upload: ${problem}`);
  return normalised;
}
