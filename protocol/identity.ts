/**
 * The client's identity files, byte-compatible with the reference client:
 *
 * - `priv.key`: Base64 of the PKCS#8 DER private key, 72-character lines,
 *   each ending in a newline, then one empty line (as the reference writes it);
 * - `me.info` (the reference writes `info.me`): line 1 the name, line 2 the
 *   32 lowercase hex digits of the client id, then the same Base64 key.
 *
 * Pure text codecs; reading and writing the files is the client's job.
 *
 * @module
 */

import { type ClientId, clientIdFromHex, clientIdToHex } from "./fields.ts";
import { nameProblem } from "./names.ts";

const LINE_LENGTH = 72;

/** What `me.info` holds. */
export interface Identity {
  /** The registered client name. */
  name: string;
  /** The 16-byte client id the server gave. */
  clientId: ClientId;
  /** PKCS#8 DER of the private key. */
  privateKeyDer: Uint8Array;
}

/**
 * An identity file (`me.info`, `priv.key`) that does not parse. The place
 * (`"line 2"`, or `undefined` for the file as a whole) and the reason are kept
 * apart, so that the caller can name the file without rewording the message.
 */
export class IdentitySyntaxError extends SyntaxError {
  /** Where in the file, such as `"line 2"`; `undefined` for the whole file. */
  readonly where: string | undefined;
  /** What is wrong there. */
  readonly reason: string;

  /**
   * Creates the error.
   *
   * @param what What was being parsed, for the message: `"me.info"`.
   * @param where Where in the text, or `undefined`.
   * @param reason What is wrong.
   * @param options Standard error options; pass `cause` to keep the origin.
   */
  constructor(what: string, where: string | undefined, reason: string, options?: ErrorOptions) {
    super(`Cannot parse ${what}${where === undefined ? "" : ` ${where}`}: ${reason}`, options);
    this.name = "IdentitySyntaxError";
    this.where = where;
    this.reason = reason;
  }
}

/**
 * Formats DER bytes as Base64 in 72-character, newline-terminated lines
 * followed by an empty line: byte for byte what the reference client writes.
 */
export function formatPrivateKey(der: Uint8Array): string {
  let binary = "";
  for (const b of der) binary += String.fromCharCode(b);
  const base64 = btoa(binary);
  let text = "";
  for (let i = 0; i < base64.length; i += LINE_LENGTH) {
    text += base64.slice(i, i + LINE_LENGTH) + "\n";
  }
  return text + "\n";
}

/**
 * Parses Base64 text (any line breaks and surrounding white space) into DER.
 *
 * @throws {IdentitySyntaxError} if the text is empty or not Base64.
 */
export function parsePrivateKey(text: string): Uint8Array {
  const base64 = text.replace(/\s+/g, "");
  if (base64.length === 0) throw new IdentitySyntaxError("private key", undefined, "it is empty");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) {
    throw new IdentitySyntaxError("private key", undefined, "it is not Base64");
  }
  const binary = atob(base64);
  const der = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) der[i] = binary.charCodeAt(i);
  return der;
}

/** Formats the contents of `me.info`. */
export function formatMeInfo(identity: Identity): string {
  const problem = nameProblem(identity.name);
  if (problem !== undefined) throw new TypeError(`Cannot format me.info: ${problem}`);
  return `${identity.name}\n${clientIdToHex(identity.clientId)}\n${
    formatPrivateKey(identity.privateKeyDer)
  }`;
}

/**
 * Parses the contents of `me.info` (or the reference's `info.me`). Accepts
 * `\r\n` line ends.
 *
 * @throws {IdentitySyntaxError} naming the line that is wrong.
 */
export function parseMeInfo(text: string): Identity {
  const lines = text.split(/\r?\n/);
  const name = lines[0] ?? "";
  const problem = nameProblem(name);
  if (problem !== undefined) throw new IdentitySyntaxError("me.info", "line 1", problem);
  let clientId: ClientId;
  try {
    clientId = clientIdFromHex((lines[1] ?? "").trim());
  } catch (error) {
    throw new IdentitySyntaxError("me.info", "line 2", "expected the client id as 32 hex digits", {
      cause: error,
    });
  }
  let privateKeyDer: Uint8Array;
  try {
    privateKeyDer = parsePrivateKey(lines.slice(2).join("\n"));
  } catch (error) {
    throw new IdentitySyntaxError(
      "me.info",
      "lines 3 and on",
      "expected the Base64 private key",
      { cause: error },
    );
  }
  return { name, clientId, privateKeyDer };
}
