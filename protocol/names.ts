/**
 * What a valid client name and a valid stored file name are. Both sides use
 * these checks: the client before it sends, the server on what it receives.
 *
 * File names are refused rather than silently changed when they hold
 * anything that could mislead a reader or another system:
 *
 * | refused                                   | why                                         |
 * |-------------------------------------------|---------------------------------------------|
 * | `/`, `\`, `.`, `..`                        | not a single path component                 |
 * | C0 and C1 controls, DEL, NEL, U+2028/2029  | break lines and terminals                   |
 * | bidirectional controls (U+061C, U+200E/F, U+202A-E, U+2066-9) | make a name read as another |
 * | a byte order mark (U+FEFF) anywhere        | invisible: two names that look the same     |
 * | Windows device names, with or without an extension or spaces before it (`CON`, `nul .txt`, `COM1 .txt`) | open a device on Windows |
 * | a trailing dot or space, `<>:"|?*`         | changed or refused by Windows               |
 *
 * A leading byte order mark is refused like any other, not stripped: the
 * client must send the name as it is on disk, and a name that differs from
 * another only by an invisible character would be a trap.
 *
 * A stored file may also sit in folders below its client's folder
 * (`photos/2024/cat.jpg`): {@linkcode filePathProblem} checks such a path,
 * each component by the rules above, `/` between them and nowhere else (no
 * leading or trailing `/`, no empty component), at most
 * {@linkcode MAX_FILE_PATH_LENGTH} bytes and {@linkcode MAX_FILE_PATH_DEPTH}
 * components. A single name is a path of one component.
 *
 * @example
 * ```ts
 * import { fileNameProblem, filePathProblem } from "./names.ts";
 *
 * console.log(fileNameProblem("cat.jpg")); // undefined
 * console.log(filePathProblem("photos/cat.jpg")); // undefined
 * console.log(filePathProblem("photos/../cat.jpg")); // component 2 of the path: the file name is ".."
 * ```
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

/** Windows device names, alone or before an extension, with spaces allowed before the dot. */
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$) *(\..*)?$/i;

/** Whether `name` holds a C0 or C1 control (NEL is U+0085), DEL, or a line or paragraph separator. */
function hasControl(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x2028 || c === 0x2029) return true;
  }
  return false;
}

/** Bidirectional formatting characters. */
const BIDI_CONTROL = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/**
 * Why `name` cannot be stored as a file name, or `undefined` when it can.
 *
 * A valid name is a single path component that is safe on every system the
 * server may run on and reads as what it is (see the module documentation):
 * 1 to 255 UTF-8 bytes; no `/`, `\`, control characters (C0, C1, NEL, line
 * and paragraph separators), bidirectional controls or byte order mark; not
 * `.` or `..`; not a Windows device name (`CON`, `NUL.txt`, `COM1 .txt`, …);
 * no trailing dot or space; none of `<>:"|?*`.
 */
export function fileNameProblem(name: string): string | undefined {
  const size = new TextEncoder().encode(name).length;
  if (size === 0) return "the file name is empty";
  if (size > MAX_FILE_NAME_LENGTH) {
    return `the file name has ${size} bytes, more than ${MAX_FILE_NAME_LENGTH}`;
  }
  if (name === "." || name === "..") return `the file name is ${JSON.stringify(name)}`;
  if (hasControl(name)) return "the file name contains a control character";
  if (BIDI_CONTROL.test(name)) return "the file name contains a bidirectional control character";
  if (name.includes("\ufeff")) return "the file name contains a byte order mark (U+FEFF)";
  if (name.includes("/") || name.includes("\\")) return "the file name contains a path separator";
  if (/[<>:"|?*]/.test(name)) return "the file name contains a character Windows forbids";
  if (WINDOWS_DEVICE.test(name)) return "the file name is a Windows device name";
  if (/[. ]$/.test(name)) return "the file name ends with a dot or a space";
  return undefined;
}

/** Longest stored file path (folders and name, `/` between them), in UTF-8 bytes. */
export const MAX_FILE_PATH_LENGTH: number = 1024;
/** Most components of a stored file path (its folders and its name). */
export const MAX_FILE_PATH_DEPTH: number = 32;

/**
 * Why `path` cannot be a stored file path relative to its client's folder,
 * or `undefined` when it can: 1 to {@linkcode MAX_FILE_PATH_DEPTH} components
 * joined by `/`, each a valid file name ({@linkcode fileNameProblem}: no `.`,
 * `..`, `\`, control characters, ...), at most {@linkcode MAX_FILE_PATH_LENGTH}
 * bytes in all. So no leading `/` (absolute), no `//` or trailing `/` (empty
 * components), and nothing that climbs out of the client's folder.
 *
 * Normalisation is the caller's: the server stores paths in NFC.
 */
export function filePathProblem(path: string): string | undefined {
  const size = new TextEncoder().encode(path).length;
  if (size === 0) return "the path is empty";
  if (size > MAX_FILE_PATH_LENGTH) {
    return `the path has ${size} bytes, more than ${MAX_FILE_PATH_LENGTH}`;
  }
  if (path.startsWith("/")) return "the path is absolute (it starts with /)";
  const components = path.split("/");
  if (components.length > MAX_FILE_PATH_DEPTH) {
    return `the path has ${components.length} components, more than ${MAX_FILE_PATH_DEPTH}`;
  }
  for (const [i, component] of components.entries()) {
    if (component === "") return `component ${i + 1} of the path is empty`;
    const problem = fileNameProblem(component);
    if (problem !== undefined) return `component ${i + 1} of the path: ${problem}`;
  }
  return undefined;
}
