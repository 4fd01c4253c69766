/**
 * The secure mode's operator commands:
 *
 * - `server fingerprint`: what the operator reads out to users so they can
 *   check (or pin in advance) the server's identity: the one in the data
 *   folder, in `--identity FILE`, or the deployment's in a shared registry.
 *   Never creates one.
 * - `server identity FILE`: a new identity file, for `--identity`.
 * - `server rotate-identity [FILE] [--registry URL]`: FILE's identity (or a
 *   new one) becomes the deployment's (the registry from `--registry`, else
 *   `FT_REGISTRY_URL`) (see server/identity/deployment_identity.ts).
 *
 * ```text
 * SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU
 * E3:B0:C4:42:...:55 (the same, as openssl x509 -noout -fingerprint -sha256 -in <file> prints it)
 * ```
 *
 * @module
 */

import { errorMessage } from "../../common/error_message.ts";
import { join } from "node:path";
import { formatFingerprint, formatFingerprintHex } from "../../protocol/fingerprint.ts";
import {
  readIdentityFile,
  recordedFingerprint,
  type RecordedIdentity,
} from "../identity/deployment_identity.ts";
import {
  createServerIdentityText,
  parseServerIdentity,
  readServerIdentity,
  SERVER_IDENTITY_FILE,
  ServerIdentityError,
} from "../identity/tls_identity.ts";
import {
  environment,
  mayReadEnvironment,
  openIdentityRecord,
  storageSelection,
} from "../storage/storage_selection.ts";

/** Where `server fingerprint` looks. */
export interface FingerprintSources {
  /** `--identity FILE`. */
  identity?: string | undefined;
  /** `--registry URL` (else `FT_REGISTRY_URL`): the deployment's identity. */
  registry?: string | undefined;
}

/**
 * The fingerprint of the identity the server presents, in both printed forms:
 * `--identity FILE`'s, else the deployment's in a shared registry, else the
 * one in `dir`.
 *
 * @throws {ServerIdentityError} when there is no identity yet, or it is unusable.
 */
export async function describeFingerprint(
  dir: string,
  sources: FingerprintSources = {},
): Promise<string> {
  if (sources.identity !== undefined) {
    return fingerprintLines(
      (await readIdentityFile(sources.identity)).fingerprint,
      sources.identity,
    );
  }
  const selection = storageSelection(
    { registry: sources.registry },
    environment,
    mayReadEnvironment,
  );
  const record = await openIdentityRecord(selection);
  if (record !== undefined) {
    try {
      const recorded = await record.read();
      if (recorded === undefined) {
        throw new ServerIdentityError(
          "Cannot show the fingerprint: the deployment has no identity yet. Its first instance " +
            "to start with the secure mode makes it (or records its --identity file's)",
        );
      }
      return fingerprintLines(await recordedFingerprint(recorded), undefined);
    } finally {
      await record.close();
    }
  }
  const path = join(dir, SERVER_IDENTITY_FILE);
  const identity = await readServerIdentity(dir);
  if (identity === undefined) {
    throw new ServerIdentityError(
      `Cannot show the fingerprint: ${path} does not exist yet. The server creates it on its ` +
        "first start with the secure mode on (the default); start it once, or check --dir",
    );
  }
  return fingerprintLines(identity.fingerprint, path);
}

function fingerprintLines(fingerprint: Uint8Array, path: string | undefined): string {
  return `${formatFingerprint(fingerprint)}\n` +
    `${formatFingerprintHex(fingerprint)} (the same, as openssl x509 -noout -fingerprint ` +
    `-sha256 ${path === undefined ? "on the certificate" : `-in ${path}`} prints it)`;
}

/**
 * `server identity FILE`: writes a new identity (key and certificate) to
 * FILE, mode 0600; never replaces a file.
 *
 * @returns What to print: the fingerprint and what to do with the file.
 * @throws {ServerIdentityError} when FILE exists or cannot be written.
 */
export async function createIdentityFile(path: string): Promise<string> {
  const text = await createServerIdentityText();
  try {
    await Deno.writeTextFile(path, text, { mode: 0o600, createNew: true });
    if (Deno.build.os !== "windows") await Deno.chmod(path, 0o600);
  } catch (error) {
    const reason = error instanceof Deno.errors.AlreadyExists
      ? "it exists already (an identity is never replaced by this command)"
      : errorMessage(error);
    throw new ServerIdentityError(`Cannot write the identity ${path}: ${reason}`, {
      cause: error,
    });
  }
  const identity = await parseServerIdentity(text);
  return `${formatFingerprint(identity.fingerprint)}\n` +
    `Wrote ${path} (mode 0600: it holds the private key). Give it to every instance with ` +
    `--identity ${path}, and the fingerprint to your users`;
}

/**
 * `server rotate-identity [FILE] --registry URL`: FILE's identity (only its
 * certificate is recorded; the key stays in the file) or a new one (recorded
 * with its key) becomes the deployment's.
 *
 * @returns What to print: the new fingerprint and what to do next.
 */
export async function rotateIdentity(
  registry: string | undefined,
  file: string | undefined,
): Promise<string> {
  const identity = file === undefined
    ? await parseServerIdentity(await createServerIdentityText())
    : await readIdentityFile(file);
  const recorded: RecordedIdentity = {
    certificatePem: identity.certificatePem,
    privateKeyPem: file === undefined ? identity.privateKeyPem : undefined,
  };
  const record = await openIdentityRecord(
    storageSelection({ registry }, environment, mayReadEnvironment),
  );
  if (record === undefined) {
    throw new ServerIdentityError(
      "Cannot rotate the deployment's identity: no shared registry given. Give the instances' " +
        "--registry URL, or run it where FT_REGISTRY_URL is set as for the instances",
    );
  }
  try {
    await record.replace(recorded);
  } finally {
    await record.close();
  }
  const fingerprint = formatFingerprint(await recordedFingerprint(recorded));
  const instances = file === undefined
    ? "Restart every instance without --identity (and with no server_identity.pem in its --dir)"
    : `Restart every instance with --identity ${file}`;
  return `${fingerprint}\nThe deployment's identity is now ${fingerprint}. ${instances}: each ` +
    "reads the identity when it starts. Clients that pinned the old one refuse the server until " +
    `their users re-pin: client --pin ${fingerprint}`;
}
