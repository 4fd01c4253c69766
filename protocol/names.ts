/**
 * What a valid client name and a valid stored file name are. Both sides use
 * these checks: the client before it sends, the server on what it receives.
 *
 * @module
 */

import { MAX_FILE_NAME_LENGTH, MAX_NAME_LENGTH } from "./constants.ts";

/**
 * Why `name` cannot be a client name, or `undefined` when it can: 1 to 100
 * bytes of printable ASCII.
 */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return "the name is empty";
  if (name.length > MAX_NAME_LENGTH) {
    return `the name has ${name.length} bytes, more than ${MAX_NAME_LENGTH}`;
  }
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return `character ${i + 1} of the name is not printable ASCII`;
  }
  return undefined;
}

const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$/i;

/**
 * Why `name` cannot be stored as a file name, or `undefined` when it can.
 *
 * A valid name is a single path component that is safe on every system the
 * server may run on: 1 to 255 UTF-8 bytes; no `/`, `\`, NUL or other control
 * characters; not `.` or `..`; not a Windows device name (`CON`, `NUL.txt`, …);
 * no trailing dot or space; none of `<>:"|?*`.
 */
export function fileNameProblem(name: string): string | undefined {
  const size = new TextEncoder().encode(name).length;
  if (size === 0) return "the file name is empty";
  if (size > MAX_FILE_NAME_LENGTH) {
    return `the file name has ${size} bytes, more than ${MAX_FILE_NAME_LENGTH}`;
  }
  if (name === "." || name === "..") return `the file name is ${JSON.stringify(name)}`;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return "the file name contains a control character";
  }
  if (name.includes("/") || name.includes("\\")) return "the file name contains a path separator";
  if (/[<>:"|?*]/.test(name)) return "the file name contains a character Windows forbids";
  if (WINDOWS_DEVICE.test(name)) return "the file name is a Windows device name";
  if (/[. ]$/.test(name)) return "the file name ends with a dot or a space";
  return undefined;
}
