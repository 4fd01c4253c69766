/**
 * The server's identity for the secure mode: an Ed25519 key pair and a
 * self-signed X.509 certificate for {@linkcode SECURE_SERVER_NAME}, made on
 * first start with `@peculiar/x509` on WebCrypto and kept in the data folder
 * as one file, `server_identity.pem` (mode 0600):
 *
 * ```text
 * -----BEGIN CERTIFICATE-----   the certificate clients pin (its SHA-256 is the fingerprint)
 * -----BEGIN PRIVATE KEY-----   PKCS#8, never leaves this file
 * ```
 *
 * One file, created with a hard link from a complete temporary file, so a
 * crash never leaves a key without its certificate and two servers starting
 * at once on one folder end up with the same identity. An existing file is
 * never replaced: a new identity makes every client that pinned the old one
 * refuse the server, so that is the operator's decision (delete the file).
 *
 * What Deno's TLS accepts (checked by the tests on a real socket): Ed25519
 * and ECDSA P-256 certificates both work; the certificate must not say
 * `CA:TRUE` (rustls refuses a CA certificate as the server's own), and must
 * name the server in its subject alternative names.
 *
 * @example
 * ```ts ignore
 * const identity = await loadOrCreateServerIdentity(".data");
 * console.log(formatFingerprint(identity.fingerprint));
 * ```
 *
 * @module
 */

import "reflect-metadata"; // @peculiar/x509's dependency injection needs it loaded first
import * as x509 from "@peculiar/x509";
import { join } from "node:path";
import { SECURE_SERVER_NAME } from "../../protocol/discovery.ts";
import { StartupError } from "../errors.ts";
import { certificateFingerprint } from "../../protocol/fingerprint.ts";
import { decodePem, encodePem, PemSyntaxError } from "../../protocol/pem.ts";
import { errorMessage } from "../../common/error_message.ts";

/** The identity file in the data folder. */
export const SERVER_IDENTITY_FILE = "server_identity.pem";

const ALGORITHM = { name: "Ed25519" } as const;
/** Valid from a date every client clock is past, so a client's clock cannot be "too early". */
const NOT_BEFORE = new Date("2000-01-01T00:00:00Z");
/** RFC 5280 §4.1.2.5: the date for "no well-defined expiration". */
const NOT_AFTER = new Date("9999-12-31T23:59:59Z");

/** The server's TLS identity, ready for `Deno.listenTls`. */
export interface ServerIdentity {
  /** The certificate, PEM (for `Deno.listenTls`). */
  certificatePem: string;
  /** The PKCS#8 private key, PEM (for `Deno.listenTls`). */
  privateKeyPem: string;
  /** The certificate, DER (sent in the discovery answer). */
  certificate: Uint8Array;
  /** SHA-256 of the DER certificate. */
  fingerprint: Uint8Array;
}

/** The identity file is unreadable, or does not hold a usable identity: the server cannot start. */
export class ServerIdentityError extends StartupError {
  /**
   * Creates the error.
   *
   * @param message `Cannot <action>: <reason>. <what to do>`.
   * @param options Pass `cause` to keep the origin.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ServerIdentityError";
  }
}

/** Makes a new key pair and self-signed certificate, as the file's text. */
export async function createServerIdentityText(): Promise<string> {
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, [
    "sign",
    "verify",
  ]) as CryptoKeyPair;
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0]! &= 0x7f; // a positive INTEGER
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: [...serial].map((byte) => byte.toString(16).padStart(2, "0")).join(""),
    name: `CN=${SECURE_SERVER_NAME}`,
    notBefore: NOT_BEFORE,
    notAfter: NOT_AFTER,
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: "dns", value: SECURE_SERVER_NAME }]),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ],
  });
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  const text = encodePem("CERTIFICATE", new Uint8Array(certificate.rawData)) +
    encodePem("PRIVATE KEY", pkcs8);
  pkcs8.fill(0);
  return text;
}

/**
 * The identity file's text does not hold a usable identity: what could not be
 * done with which part, and why, kept apart so that a message about the file
 * can name them without rewording this one.
 */
export class ServerIdentitySyntaxError extends SyntaxError {
  /** What could not be done, after "Cannot": `parse the certificate`. */
  readonly action: string;
  /** Why not: `not X.509 DER`. */
  readonly reason: string;

  /**
   * Creates the error: `Cannot <action>: <reason>`.
   *
   * @param action What could not be done.
   * @param reason Why not.
   * @param options Pass `cause` to keep the origin.
   */
  constructor(action: string, reason: string, options?: ErrorOptions) {
    super(`Cannot ${action}: ${reason}`, options);
    this.name = "ServerIdentitySyntaxError";
    this.action = action;
    this.reason = reason;
  }
}

/**
 * Reads an identity from the file's text and checks that the key belongs
 * to the certificate and that the certificate names the server.
 *
 * @throws {ServerIdentitySyntaxError} if a block is missing or is not what it
 * says.
 */
export async function parseServerIdentity(text: string): Promise<ServerIdentity> {
  const certificate = pemBlock(text, "CERTIFICATE");
  const privateKey = pemBlock(text, "PRIVATE KEY");
  let parsed: x509.X509Certificate;
  try {
    parsed = new x509.X509Certificate(certificate as Uint8Array<ArrayBuffer>);
  } catch (error) {
    throw new ServerIdentitySyntaxError("parse the certificate", "not X.509 DER", {
      cause: error,
    });
  }
  const names = parsed.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [];
  if (!names.some((name) => name.type === "dns" && name.value === SECURE_SERVER_NAME)) {
    throw new ServerIdentitySyntaxError(
      "use the certificate",
      `it does not name ${SECURE_SERVER_NAME}`,
    );
  }
  await checkKeyMatches(parsed, privateKey);
  return {
    certificatePem: encodePem("CERTIFICATE", certificate),
    privateKeyPem: encodePem("PRIVATE KEY", privateKey),
    certificate,
    fingerprint: await certificateFingerprint(certificate),
  };
}

/** The bytes of the one PEM block labelled `label`. */
function pemBlock(text: string, label: string): Uint8Array {
  try {
    return decodePem(text, label);
  } catch (error) {
    if (!(error instanceof PemSyntaxError)) throw error;
    throw new ServerIdentitySyntaxError("parse PEM", error.reason, { cause: error });
  }
}

/** Signs a random message with the private key and verifies it with the certificate's key. */
async function checkKeyMatches(certificate: x509.X509Certificate, pkcs8: Uint8Array) {
  let ok = false;
  try {
    const publicKey = await certificate.publicKey.export();
    const algorithm = publicKey.algorithm as EcKeyImportParams | Algorithm;
    const signing = algorithm.name === "ECDSA" ? { ...algorithm, hash: "SHA-256" } : algorithm;
    const key = await crypto.subtle.importKey(
      "pkcs8",
      pkcs8 as Uint8Array<ArrayBuffer>,
      algorithm,
      false,
      ["sign"],
    );
    const message = crypto.getRandomValues(new Uint8Array(32));
    const signature = await crypto.subtle.sign(signing, key, message);
    ok = await crypto.subtle.verify(signing, publicKey, signature, message);
  } catch (error) {
    throw new ServerIdentitySyntaxError(
      "use the private key",
      "not a PKCS#8 key of the certificate's kind",
      { cause: error },
    );
  }
  if (!ok) {
    throw new ServerIdentitySyntaxError("use the private key", "it is not the certificate's");
  }
}

/**
 * Reads the identity in `dir`.
 *
 * @returns `undefined` when the file does not exist.
 * @throws {ServerIdentityError} if it cannot be read or does not hold a
 * usable identity.
 */
export async function readServerIdentity(dir: string): Promise<ServerIdentity | undefined> {
  const path = join(dir, SERVER_IDENTITY_FILE);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new ServerIdentityError(
      `Cannot read the server identity ${path}: ${errorMessage(error)}. ` +
        "Check the file's permissions",
      { cause: error },
    );
  }
  try {
    return await parseServerIdentity(text);
  } catch (error) {
    if (!(error instanceof ServerIdentitySyntaxError)) throw error;
    throw new ServerIdentityError(
      `Cannot use the server identity ${path}: ${error.action}: ${error.reason}. ` +
        "Restore the file from a backup, or delete it to make a new identity (every client " +
        "that pinned the old one will then refuse this server until its user pins the new one)",
      { cause: error },
    );
  }
}

/**
 * Reads the identity in `dir`, creating it first when there is none.
 *
 * @returns The identity and whether it was created now.
 * @throws {ServerIdentityError} if an existing file is unusable or a new one
 * cannot be written.
 */
export async function loadOrCreateServerIdentity(
  dir: string,
): Promise<{ identity: ServerIdentity; created: boolean }> {
  const existing = await readServerIdentity(dir);
  if (existing !== undefined) return { identity: existing, created: false };
  const path = join(dir, SERVER_IDENTITY_FILE);
  const temporary = `${path}.${crypto.randomUUID()}.tmp`;
  let created = true;
  try {
    await Deno.writeTextFile(temporary, await createServerIdentityText(), {
      mode: 0o600,
      createNew: true,
    });
    if (Deno.build.os !== "windows") await Deno.chmod(temporary, 0o600);
    await syncFile(temporary);
    // A link, unlike a rename, never replaces: another server that won the
    // race keeps its identity and this one uses it too.
    await Deno.link(temporary, path).catch((error) => {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      created = false;
    });
  } catch (error) {
    throw new ServerIdentityError(
      `Cannot create the server identity ${path}: ${errorMessage(error)}. ` +
        "Make the data folder writable",
      { cause: error },
    );
  } finally {
    await Deno.remove(temporary).catch(() => {});
  }
  const identity = await readServerIdentity(dir);
  if (identity === undefined) {
    throw new ServerIdentityError(`Cannot create the server identity ${path}: it vanished`);
  }
  return { identity, created };
}

async function syncFile(path: string): Promise<void> {
  using file = await Deno.open(path, { read: true, write: true });
  await file.sync();
}
