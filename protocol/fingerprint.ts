/**
 * The secure mode's server fingerprint: the SHA-256 of the server's DER
 * certificate, written for people to compare by eye.
 *
 * | form                     | example                                          | where                          |
 * |--------------------------|--------------------------------------------------|--------------------------------|
 * | `SHA256:` + Base64       | `SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU` | what both programs print (as OpenSSH does) |
 * | colon hex                | `E3:B0:C4:...:55`                                | what `openssl x509 -fingerprint -sha256` prints |
 *
 * {@linkcode parseFingerprint} reads both (hex also without colons, in any
 * case), so an operator may check the server's file with `openssl` and a user
 * may paste either form.
 *
 * @example
 * ```ts
 * import { formatFingerprint, parseFingerprint } from "./fingerprint.ts";
 * const hash = new Uint8Array(32);
 * const text = formatFingerprint(hash);
 * console.assert(text === "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
 * console.assert(parseFingerprint(text).length === 32);
 * ```
 *
 * @module
 */

/** Size of a fingerprint: a SHA-256 digest. */
export const FINGERPRINT_SIZE = 32;

/** Prefix of the printed form. */
export const FINGERPRINT_PREFIX = "SHA256:";

/** The fingerprint of a DER certificate: its SHA-256 digest (32 bytes). */
export async function certificateFingerprint(der: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", der as Uint8Array<ArrayBuffer>));
}

function checkSize(hash: Uint8Array): void {
  if (hash.length !== FINGERPRINT_SIZE) {
    throw new RangeError(
      `Cannot format fingerprint: ${hash.length} bytes instead of ${FINGERPRINT_SIZE}`,
    );
  }
}

/**
 * Formats a fingerprint as `SHA256:` and unpadded Base64 (43 characters), the
 * form OpenSSH prints.
 *
 * @throws {RangeError} if `hash` is not 32 bytes.
 */
export function formatFingerprint(hash: Uint8Array): string {
  checkSize(hash);
  return FINGERPRINT_PREFIX + btoa(String.fromCharCode(...hash)).replace(/=+$/, "");
}

/**
 * Formats a fingerprint as upper-case hex pairs joined by colons, the form
 * `openssl x509 -noout -fingerprint -sha256` prints.
 *
 * @throws {RangeError} if `hash` is not 32 bytes.
 */
export function formatFingerprintHex(hash: Uint8Array): string {
  checkSize(hash);
  return [...hash].map((byte) => byte.toString(16).padStart(2, "0").toUpperCase()).join(":");
}

/** A fingerprint that does not parse: the text and why, kept apart. */
export class FingerprintSyntaxError extends SyntaxError {
  /** The text that does not parse. */
  readonly text: string;
  /** Why it does not parse. */
  readonly reason: string;

  /**
   * Creates the error: `Cannot parse fingerprint "<text>": <reason>`.
   *
   * @param text The text that does not parse.
   * @param reason Why.
   */
  constructor(text: string, reason: string) {
    super(`Cannot parse fingerprint ${JSON.stringify(text)}: ${reason}`);
    this.name = "FingerprintSyntaxError";
    this.text = text;
    this.reason = reason;
  }
}

/**
 * Reads a fingerprint in either printed form: `SHA256:<43 Base64 characters>`
 * (padding `=` allowed), or 64 hex digits, with or without colons between
 * the pairs (`openssl`'s `sha256 Fingerprint=` prefix allowed too).
 *
 * @throws {FingerprintSyntaxError} if the text is neither.
 */
export function parseFingerprint(text: string): Uint8Array {
  const trimmed = text.trim();
  if (trimmed.startsWith(FINGERPRINT_PREFIX)) {
    const base64 = trimmed.slice(FINGERPRINT_PREFIX.length).replace(/=$/, "");
    if (/^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]$/.test(base64)) {
      return Uint8Array.from(atob(`${base64}=`), (char) => char.charCodeAt(0));
    }
    throw new FingerprintSyntaxError(text, `after ${FINGERPRINT_PREFIX} come 43 Base64 characters`);
  }
  const hex = trimmed.replace(/^sha256 fingerprint=/i, "");
  if (/^[0-9A-Fa-f]{64}$/.test(hex) || /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){31}$/.test(hex)) {
    const digits = hex.replaceAll(":", "");
    return Uint8Array.from(
      { length: FINGERPRINT_SIZE },
      (_, i) => parseInt(digits.slice(2 * i, 2 * i + 2), 16),
    );
  }
  throw new FingerprintSyntaxError(
    text,
    `expected ${FINGERPRINT_PREFIX} and 43 Base64 characters, or 32 hex pairs separated by colons`,
  );
}
