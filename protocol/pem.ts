/**
 * PEM armour (RFC 7468): Base64 of DER bytes between `-----BEGIN <label>-----`
 * and `-----END <label>-----` lines. Only the text wrapping: the DER inside
 * is produced and read by WebCrypto and `@peculiar/x509`, never by hand.
 *
 * @example
 * ```ts
 * import { encodePem, decodePem } from "./pem.ts";
 * const text = encodePem("CERTIFICATE", new Uint8Array([1, 2, 3]));
 * console.assert(decodePem(text, "CERTIFICATE").length === 3);
 * ```
 *
 * @module
 */

const LINE_LENGTH = 64;

/** Wraps `der` as a PEM block with `label` (64-character lines, final newline). */
export function encodePem(label: string, der: Uint8Array): string {
  let binary = "";
  for (const byte of der) binary += String.fromCharCode(byte);
  const base64 = btoa(binary);
  let text = `-----BEGIN ${label}-----\n`;
  for (let i = 0; i < base64.length; i += LINE_LENGTH) {
    text += base64.slice(i, i + LINE_LENGTH) + "\n";
  }
  return `${text}-----END ${label}-----\n`;
}

/** PEM text that does not hold the block asked for: the label and why, kept apart. */
export class PemSyntaxError extends SyntaxError {
  /** The block's label, e.g. `CERTIFICATE`. */
  readonly label: string;
  /** Why the block cannot be read: `no CERTIFICATE block`. */
  readonly reason: string;

  /**
   * Creates the error: `Cannot parse PEM: <reason>`.
   *
   * @param label The block's label.
   * @param reason Why it cannot be read.
   */
  constructor(label: string, reason: string) {
    super(`Cannot parse PEM: ${reason}`);
    this.name = "PemSyntaxError";
    this.label = label;
    this.reason = reason;
  }
}

/**
 * Finds the one block labelled `label` in `text` (other blocks and text
 * around them are ignored) and returns its bytes.
 *
 * @throws {PemSyntaxError} if there is no such block, more than one, or its
 * body is not Base64.
 */
export function decodePem(text: string, label: string): Uint8Array {
  const pattern = new RegExp(`-----BEGIN ${label}-----\\r?\\n([^-]*)-----END ${label}-----`, "g");
  const matches = [...text.matchAll(pattern)];
  if (matches.length !== 1) {
    throw new PemSyntaxError(
      label,
      `${matches.length === 0 ? "no" : matches.length} ${label} block` +
        (matches.length === 0 ? "" : "s, one expected"),
    );
  }
  const base64 = matches[0]![1]!.replace(/\s+/g, "");
  if (base64 === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(base64) || base64.length % 4 !== 0) {
    throw new PemSyntaxError(label, `the ${label} block is not Base64`);
  }
  return Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
}
