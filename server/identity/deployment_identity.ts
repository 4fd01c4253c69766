/**
 * One identity for a whole deployment: every instance that shares a registry
 * presents the same certificate, so a client that pinned it through a load
 * balancer is served by any instance.
 *
 * Where an instance's identity comes from:
 *
 * | registry          | `--identity FILE` | the identity                                                         |
 * | ----------------- | ----------------- | -------------------------------------------------------------------- |
 * | SQLite (its own)  | no                | `server_identity.pem` in `--dir`, made on first start                |
 * | SQLite (its own)  | yes               | FILE (made by `server identity FILE`)                                |
 * | shared (Postgres) | no                | the deployment's, from the registry; the first instance makes it     |
 * | shared (Postgres) | yes               | FILE, which must be the deployment's (the first one records its certificate) |
 *
 * The registry keeps the deployment's certificate, and its private key when
 * an instance made it (so the others can take it). From an `--identity` file
 * only the certificate is recorded: the key stays in the operator's file.
 * An instance whose own identity (FILE, or an older `server_identity.pem` in
 * its `--dir`) is not the deployment's refuses to start, with one line that
 * says how to fix it ({@linkcode IdentityMismatchError}). `server
 * rotate-identity` replaces the deployment's identity.
 *
 * @example
 * ```ts ignore
 * const { identity, origin } = await resolveIdentity({ dir: ".data", record });
 * ```
 *
 * @module
 */

import { errorMessage } from "../../common/error_message.ts";
import { bytesEqual } from "../../protocol/mod.ts";
import { certificateFingerprint, formatFingerprint } from "../../protocol/fingerprint.ts";
import { decodePem } from "../../protocol/pem.ts";
import {
  createServerIdentityText,
  loadOrCreateServerIdentity,
  parseServerIdentity,
  readServerIdentity,
  SERVER_IDENTITY_FILE,
  type ServerIdentity,
  ServerIdentityError,
} from "./tls_identity.ts";

/** The deployment's identity as the shared registry keeps it. */
export interface RecordedIdentity {
  /** The certificate, PEM. */
  certificatePem: string;
  /** The PKCS#8 key, PEM; undefined when the operator keeps it in a file. */
  privateKeyPem?: string | undefined;
}

/** Where a shared registry keeps the deployment's identity. */
export interface IdentityRecord {
  /** The deployment's identity, or undefined before the first instance recorded one. */
  read(): Promise<RecordedIdentity | undefined>;
  /**
   * Records `identity` unless one is recorded already (another instance may
   * have been first); returns the one recorded.
   */
  publish(identity: RecordedIdentity): Promise<RecordedIdentity>;
  /** Replaces the recorded identity (rotation). */
  replace(identity: RecordedIdentity): Promise<void>;
  /** Closes its connection. */
  close(): Promise<void>;
}

/** This instance's identity is not the deployment's: the instance must not start. */
export class IdentityMismatchError extends ServerIdentityError {
  /**
   * Creates the error.
   *
   * @param message One line: both fingerprints, and how to fix it.
   * @param options Standard error options.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IdentityMismatchError";
  }
}

/** What {@linkcode resolveIdentity} needs. */
export interface IdentitySources {
  /** The data folder (its `server_identity.pem`). */
  dir: string;
  /** `--identity FILE`, if given. */
  identityFile?: string | undefined;
  /** The shared registry's record; undefined with a registry of its own (SQLite). */
  record?: IdentityRecord | undefined;
}

/** The identity an instance presents, and where it came from (for the start-up log). */
export interface ResolvedIdentity {
  /** The identity. */
  identity: ServerIdentity;
  /** `the deployment's (shared registry)`, a file's path, ... */
  origin: string;
}

/**
 * Reads an identity file given with `--identity`.
 *
 * @throws {ServerIdentityError} when it is missing, unreadable or unusable.
 */
export async function readIdentityFile(path: string): Promise<ServerIdentity> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const reason = error instanceof Deno.errors.NotFound
      ? "it does not exist. Make one with: server identity FILE"
      : `${errorMessage(error)}. Check the file's permissions (the server may read its ` +
        "data folder only: keep the file there)";
    throw new ServerIdentityError(`Cannot read the identity ${path}: ${reason}`, { cause: error });
  }
  try {
    return await parseServerIdentity(text);
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new ServerIdentityError(
      `Cannot use the identity ${path}: ${error.message.replace(/^Cannot /, "")}. ` +
        "Give a file made by: server identity FILE",
      { cause: error },
    );
  }
}

/** The fingerprint of a recorded identity's certificate. */
export async function recordedFingerprint(recorded: RecordedIdentity): Promise<Uint8Array> {
  return await certificateFingerprint(decodePem(recorded.certificatePem, "CERTIFICATE"));
}

/**
 * The identity this instance presents (see the module table).
 *
 * @throws {IdentityMismatchError} when its own identity is not the deployment's.
 * @throws {ServerIdentityError} when a file is unusable, or the deployment's
 * key is kept by the operator and this instance was given none.
 */
export async function resolveIdentity(sources: IdentitySources): Promise<ResolvedIdentity> {
  const { dir, identityFile, record } = sources;
  const ownPath = identityFile ?? `${dir}/${SERVER_IDENTITY_FILE}`;
  const own = identityFile !== undefined
    ? await readIdentityFile(identityFile)
    : await readServerIdentity(dir);
  if (record === undefined) {
    if (own !== undefined) return { identity: own, origin: ownPath };
    const { identity } = await loadOrCreateServerIdentity(dir);
    return { identity, origin: ownPath };
  }
  let recorded = await record.read();
  if (recorded === undefined) {
    const fresh = own ?? await parseServerIdentity(await createServerIdentityText());
    recorded = await record.publish({
      certificatePem: fresh.certificatePem,
      // From the operator's file only the certificate: its key stays there.
      privateKeyPem: identityFile === undefined ? fresh.privateKeyPem : undefined,
    });
  }
  const deployment = await recordedFingerprint(recorded);
  if (own !== undefined) {
    if (!bytesEqual(own.fingerprint, deployment)) throw mismatch(own, ownPath, deployment, sources);
    return { identity: own, origin: `${ownPath}, the deployment's` };
  }
  if (recorded.privateKeyPem === undefined) {
    throw new ServerIdentityError(
      `Cannot start the secure mode: the deployment's identity ${formatFingerprint(deployment)} ` +
        "is kept in the operator's file (its key is not in the registry). Give this instance " +
        "--identity FILE with that file",
    );
  }
  const identity = await parseServerIdentity(recorded.certificatePem + recorded.privateKeyPem);
  return { identity, origin: "the deployment's, from the shared registry" };
}

function mismatch(
  own: ServerIdentity,
  path: string,
  deployment: Uint8Array,
  sources: IdentitySources,
): IdentityMismatchError {
  const fix = sources.identityFile === undefined
    ? `move ${path} away to take the deployment's identity`
    : "give --identity the deployment's file";
  return new IdentityMismatchError(
    `Cannot start with the identity ${formatFingerprint(own.fingerprint)} (${path}): the ` +
      `deployment sharing this registry presents ${formatFingerprint(deployment)}. To fix it, ` +
      `${fix}; or make this one the deployment's with: server rotate-identity ${path} ` +
      "(with this instance's --registry, or FT_REGISTRY_URL set; README: Deployment)",
  );
}
