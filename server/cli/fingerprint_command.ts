/**
 * `server fingerprint`: what the operator reads out to users so they can
 * check (or pin in advance) the server's identity. Reads the identity in the
 * data folder; never creates one.
 *
 * ```text
 * SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU
 * E3:B0:C4:42:...:55 (the same, as openssl x509 -noout -fingerprint -sha256 -in <file> prints it)
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { formatFingerprint, formatFingerprintHex } from "../../protocol/fingerprint.ts";
import {
  readServerIdentity,
  SERVER_IDENTITY_FILE,
  ServerIdentityError,
} from "../identity/tls_identity.ts";

/**
 * The fingerprint of the identity in `dir`, in both printed forms.
 *
 * @throws {ServerIdentityError} when there is no identity yet, or it is unusable.
 */
export async function describeFingerprint(dir: string): Promise<string> {
  const path = join(dir, SERVER_IDENTITY_FILE);
  const identity = await readServerIdentity(dir);
  if (identity === undefined) {
    throw new ServerIdentityError(
      `Cannot show the fingerprint: ${path} does not exist yet. The server creates it on its ` +
        "first start with the secure mode on (the default); start it once, or check --dir",
    );
  }
  return `${formatFingerprint(identity.fingerprint)}\n` +
    `${formatFingerprintHex(identity.fingerprint)} (the same, as ` +
    `openssl x509 -noout -fingerprint -sha256 -in ${path} prints it)`;
}
