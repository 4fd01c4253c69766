/**
 * The file name field of the other dialects: clients put the path as written
 * in their `transfer.info` there (absolute or relative, with `/` or `\`), or
 * the base name (`docs/protocol.md` §15.3). The file is stored under the
 * last path component, which must then pass the usual rules
 * (`names.ts`); the field itself is echoed unchanged in the answer.
 *
 * @module
 */

import { FILE_NAME_FIELD_SIZE } from "../constants.ts";
import { ProtocolError } from "../errors.ts";
import { fileNameProblem } from "../names.ts";

/**
 * The name to store a dialect upload under: the UTF-8 text up to the first
 * NUL, after its last `/` or `\`.
 *
 * @example
 * ```ts
 * import { dialectFileName } from "./file_names.ts";
 * const field = new Uint8Array(255);
 * new TextEncoder().encodeInto("C:\\Users\\me\\f100k.bin", field);
 * console.log(dialectFileName(field)); // "f100k.bin"
 * ```
 *
 * @throws {ProtocolError} if the field is not UTF-8 or the last component
 * is not a safe file name (empty, `..`, a device name, ...).
 */
export function dialectFileName(field: Uint8Array): string {
  if (field.length !== FILE_NAME_FIELD_SIZE) {
    throw new ProtocolError(`Cannot decode file name: the field has ${field.length} bytes`);
  }
  const nul = field.indexOf(0);
  let path: string;
  try {
    path = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
      field.subarray(0, nul === -1 ? field.length : nul),
    );
  } catch (error) {
    throw new ProtocolError("Cannot decode file name: it is not valid UTF-8", { cause: error });
  }
  const name = path.slice(Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\")) + 1)
    .normalize("NFC");
  const problem = fileNameProblem(name);
  if (problem !== undefined) throw new ProtocolError(`Cannot decode file name: ${problem}`);
  return name;
}
