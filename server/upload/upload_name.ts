/**
 * The name an upload is stored under, from its 255-byte packet field: a safe
 * single path component (`fileNameProblem` in protocol/names.ts), in Unicode
 * normalisation form C, and never the form of a staged file's name.
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
import { isTemporaryName } from "../storage/file_store_local.ts";

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
