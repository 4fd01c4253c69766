/**
 * The conversation with the server, on one connection, as the reference
 * client holds it:
 *
 * ```text
 * identity in me.info/info.me:  827 -> 1605 (AES key)
 *                                    -> 1606 -> register below, same connection
 * no identity:                  825 -> 1600 (client id) -> 826 -> 1602 (AES key),
 *                               then me.info and priv.key are written
 * upload, up to 4 sends:        828 + packets -> 1603 (server's cksum)
 *                               equal: 900 -> 1604, done
 *                               different: 901 and send again; 4th: 902 -> 1604, fail
 * ```
 *
 * A 1607 at any point, or a response that does not belong, ends the session.
 *
 * @module
 */

import {
  bytesEqual,
  type ClientId,
  clientIdToHex,
  encodeRequest,
  generateRsaKeyPair,
  type Identity,
  importAesKey,
  importPrivateKey,
  RequestCode,
  type Response,
  ResponseCode,
  unwrapAesKey,
  ZERO_CLIENT_ID,
} from "../protocol/mod.ts";
import { ClientError, ExitCode } from "./client_error.ts";
import { networkError, protocolError, type ServerConnection } from "./connection.ts";
import { type LoadedIdentity, loadIdentity, saveIdentity } from "./identity_store.ts";
import { sendFile } from "./upload.ts";
import type { UploadFile } from "./upload_file.ts";

/** How many times the file is sent before the client gives up (the reference's 4). */
export const MAX_SENDS = 4;

/** What a session needs. */
export interface SessionOptions {
  /** The client's folder (identity files). */
  folder: string;
  /** The client name from `transfer.info`. */
  name: string;
  /** The checked file. */
  file: UploadFile;
  /** Progress of each send: content bytes written and total. */
  onProgress?: (sent: number, total: number, attempt: number) => void;
  /** One-line notes the user should see even with `--quiet` (cksum retries). */
  onNote?: (note: string) => void;
  /** One-line information (registration), hidden by `--quiet`. */
  onInfo?: (info: string) => void;
}

/** What a successful session did. */
export interface SessionResult {
  /** Our client id. */
  clientId: ClientId;
  /** Whether this session registered (825/826). */
  registered: boolean;
  /** How many sends it took (1 to 4). */
  sends: number;
  /** The file's cksum, confirmed by the server. */
  cksum: number;
}

type Expected<C extends number> = Response & { code: C };

/** Reads one response and checks it is one of `codes`; a 1607 or another code is an error. */
async function expect<C extends Response["code"]>(
  connection: ServerConnection,
  after: string,
  ...codes: C[]
): Promise<Expected<C>> {
  const response = await connection.receive();
  if ((codes as number[]).includes(response.code)) return response as Expected<C>;
  if (response.code === ResponseCode.GeneralError) {
    const text = response.text === "" ? "no explanation" : JSON.stringify(response.text);
    throw new ClientError(
      ExitCode.Rejected,
      `Cannot ${after}: the server answered with a general error (1607: ${text}). ` +
        "Check the server's log, then try again",
    );
  }
  throw protocolError(
    connection.address,
    `it answered ${response.code} when we tried to ${after}, expected ${codes.join(" or ")}`,
  );
}

async function unwrap(
  connection: ServerConnection,
  privateKey: CryptoKey,
  wrapped: Uint8Array,
): Promise<CryptoKey> {
  try {
    return await importAesKey(await unwrapAesKey(privateKey, wrapped));
  } catch (error) {
    throw protocolError(
      connection.address,
      "its AES key was not wrapped with our public key (was me.info or priv.key replaced?)",
      error,
    );
  }
}

async function register(
  connection: ServerConnection,
  options: SessionOptions,
  headerId: ClientId,
): Promise<{ identity: Identity; key: CryptoKey }> {
  const keyPair = generateRsaKeyPair();
  keyPair.catch(() => {}); // Awaited below; never an unhandled rejection.
  await connection.send(
    encodeRequest(headerId, { code: RequestCode.Register, name: options.name }),
  );
  const registered = await expect(
    connection,
    `register as ${JSON.stringify(options.name)}`,
    ResponseCode.Registered,
    ResponseCode.RegisterFailed,
  );
  if (registered.code === ResponseCode.RegisterFailed) {
    const text = registered.text === "" ? "" : ` (${JSON.stringify(registered.text)})`;
    throw new ClientError(
      ExitCode.Rejected,
      `Cannot register as ${JSON.stringify(options.name)}: the server refused (1601)${text}; ` +
        "the name is probably taken. Choose another name in transfer.info, " +
        "or bring back the me.info and priv.key registered under this name",
    );
  }
  const { publicKey, privateKey, privateKeyDer } = await keyPair;
  const clientId = registered.clientId;
  await connection.send(
    encodeRequest(clientId, { code: RequestCode.PublicKey, name: options.name, publicKey }),
  );
  const accepted = await expect(connection, "send our public key", ResponseCode.KeyAccepted);
  const key = await unwrap(connection, privateKey, accepted.wrappedKey);
  const identity = { name: options.name, clientId, privateKeyDer };
  await saveIdentity(options.folder, identity);
  options.onInfo?.(`registered as ${JSON.stringify(options.name)}, id ${clientIdToHex(clientId)}`);
  return { identity, key };
}

/**
 * Checks that the stored identity is for `name`: a different name is a
 * configuration error, never a silent re-registration.
 *
 * @throws {ClientError} (exit code 2) if the names differ.
 */
export function checkIdentityName(loaded: LoadedIdentity | undefined, name: string): void {
  if (loaded === undefined || loaded.identity.name === name) return;
  throw new ClientError(
    ExitCode.Config,
    `Cannot sign in: ${loaded.path} is for ${JSON.stringify(loaded.identity.name)} but ` +
      `transfer.info says ${JSON.stringify(name)}. Use the same name in both, or move me.info ` +
      "and priv.key away to register the new name",
  );
}

/**
 * Gets an AES key for this connection: reconnect with the stored identity,
 * or register (also when the server forgot us: 1606).
 */
async function signIn(
  connection: ServerConnection,
  options: SessionOptions,
): Promise<{ clientId: ClientId; key: CryptoKey; registered: boolean }> {
  const loaded = await loadIdentity(options.folder);
  if (loaded === undefined) {
    const { identity, key } = await register(connection, options, ZERO_CLIENT_ID);
    return { clientId: identity.clientId, key, registered: true };
  }
  const { identity, path } = loaded;
  checkIdentityName(loaded, options.name);
  let privateKey: CryptoKey;
  try {
    privateKey = await importPrivateKey(identity.privateKeyDer);
  } catch (error) {
    throw new ClientError(
      ExitCode.Config,
      `Cannot use the private key of ${path}: ${(error as Error).message}. ` +
        "Restore priv.key, or move me.info and priv.key away to register under a new name",
      { cause: error },
    );
  }
  await connection.send(
    encodeRequest(identity.clientId, { code: RequestCode.Reconnect, name: identity.name }),
  );
  const answer = await expect(
    connection,
    `sign in as ${JSON.stringify(identity.name)}`,
    ResponseCode.ReconnectApproved,
    ResponseCode.ReconnectDenied,
  );
  if (answer.code === ResponseCode.ReconnectApproved) {
    if (!bytesEqual(answer.clientId, identity.clientId)) {
      throw protocolError(
        connection.address,
        `it approved the sign-in for id ${clientIdToHex(answer.clientId)}, not ours (${
          clientIdToHex(identity.clientId)
        })`,
      );
    }
    const key = await unwrap(connection, privateKey, answer.wrappedKey);
    return { clientId: identity.clientId, key, registered: false };
  }
  options.onInfo?.("the server does not know us (1606): registering again");
  const { identity: fresh, key } = await register(connection, options, identity.clientId);
  return { clientId: fresh.clientId, key, registered: true };
}

/**
 * Runs a whole session on `connection`: sign in or register, then send the
 * file until the cksums agree, at most {@linkcode MAX_SENDS} times.
 *
 * @throws {ClientError} with the exit code of the failure.
 */
export async function runSession(
  connection: ServerConnection,
  options: SessionOptions,
): Promise<SessionResult> {
  const { clientId, key, registered } = await signIn(connection, options);
  const { file } = options;
  for (let attempt = 1; attempt <= MAX_SENDS; attempt++) {
    let cksum: number;
    try {
      cksum = await sendFile(connection.writer, {
        file,
        key,
        clientId,
        onProgress: (sent, total) => options.onProgress?.(sent, total, attempt),
      });
    } catch (error) {
      throw networkError(`send ${file.name} to ${connection.address}`, error);
    }
    const received = await expect(connection, `send ${file.name}`, ResponseCode.FileReceived);
    const pathRequest = { fileName: file.pathAsWritten };
    if (received.cksum === cksum) {
      await connection.send(encodeRequest(clientId, { code: RequestCode.CrcOk, ...pathRequest }));
      await expect(connection, "confirm the cksum", ResponseCode.Ack);
      return { clientId, registered, sends: attempt, cksum };
    }
    if (attempt < MAX_SENDS) {
      options.onNote?.(
        `send ${attempt} of ${MAX_SENDS}: the server's cksum ${received.cksum} is not ours ` +
          `(${cksum}); sending again`,
      );
      await connection.send(
        encodeRequest(clientId, { code: RequestCode.CrcRetry, ...pathRequest }),
      );
    } else {
      await connection.send(
        encodeRequest(clientId, { code: RequestCode.CrcAbort, ...pathRequest }),
      );
      await expect(connection, "report the failed cksum", ResponseCode.Ack);
      throw new ClientError(
        ExitCode.Crc,
        `Cannot send ${file.name}: the server's cksum (${received.cksum}) differed from ours ` +
          `(${cksum}) on all ${MAX_SENDS} sends. Check the network and the server, then try again`,
      );
    }
  }
  throw new RangeError("Cannot happen: the send loop always returns or throws");
}
