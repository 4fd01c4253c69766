/**
 * The conversation with the server, on one connection, as the reference
 * client holds it, with any number of uploads after one sign-in:
 *
 * ```text
 * identity in me.info/info.me:  827 -> 1605 (AES key)
 *                                    -> 1606 -> register below, same connection
 * no identity:                  825 -> 1600 (client id) -> 826 -> 1602 (AES key),
 *                               then the old me.info and priv.key (if any) are
 *                               moved aside and the new ones written
 * each upload, up to 4 sends:   828 + packets -> 1603 (server's cksum)
 *                               equal: 900 -> 1604, done
 *                               different: 901 and send again; 4th: 902 -> 1604, fail
 * ```
 *
 * A 1607 during sign-in, or a response that does not belong, ends the
 * session; a 1607 in answer to an upload ends that upload only.
 *
 * @module
 */

import { errorMessage } from "../common/error_message.ts";
import { formatBytes } from "../common/units.ts";
import {
  bytesEqual,
  Cksum,
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
import {
  type ClientError,
  ConfigError,
  CrcError,
  type FailureParts,
  RejectedError,
} from "./client_error.ts";
import { protocolViolation, type ServerConnection } from "./connection.ts";
import { loadIdentity, saveIdentity, setAsideIdentity } from "./identity_store.ts";
import { proveKeyPossession } from "./tls_proof.ts";
import { sendFile } from "./upload.ts";
import type { FileStatus } from "../protocol/transfers.ts";
import {
  askFileStatus,
  askToSendAt,
  planTransfer,
  type TransferChoices,
  type TransferPlan,
} from "./transfer_requests.ts";
import type { UploadFile } from "./upload_file.ts";

/** How many times a file is sent before the client gives up (the reference's 4). */
export const MAX_SENDS = 4;

/** A 1607 (general error) from the server: exit code 4. */
export class ServerError extends RejectedError {
  /** The server's explanation, possibly empty. */
  readonly text: string;

  /**
   * Creates the error.
   *
   * @param parts The action, the reason and the hint.
   * @param text The server's explanation.
   */
  constructor(parts: FailureParts, text: string) {
    super(parts);
    this.name = "ServerError";
    this.text = text;
  }
}

/** What signing in needs. */
export interface SignInOptions {
  /** The client's folder (identity files). */
  folder: string;
  /** The client name from `transfer.info`. */
  name: string;
  /** One-line notes the user should see even with `--quiet`. */
  onNote?: (note: string) => void;
  /** One-line information (registration), hidden by `--quiet`. */
  onInfo?: (info: string) => void;
  /**
   * Set when the connection is the secure mode's TLS connection: each AES key
   * is then proven (851) before it is used, bound to this fingerprint.
   */
  secure?: { fingerprint: Uint8Array };
  /**
   * Whether to register when there is no identity, or the server does not
   * know it (1606); default true. Retrieval signs in only as an identity
   * the server knows: a new one would hold no files.
   */
  registerIfUnknown?: boolean;
}

/** No identity the server knows: registering would give one that holds nothing. */
function unknownIdentity(action: string, reason: string): RejectedError {
  return new RejectedError({
    action,
    reason,
    hint: "Send a file from this folder first; the server holds files only for the identity " +
      "that sent them (me.info and priv.key)",
  });
}

/** A file the server confirmed. */
export interface Confirmed {
  /** The file's cksum, confirmed by the server. */
  cksum: number;
  /** How many sends it took (1 to 4). */
  sends: number;
  /** The name the server stores it under (from its 1603, or the path sent in 853). */
  storedName: string;
  /** Whether it replaced a file stored under that name (known in the secure mode). */
  replaced?: boolean;
  /** Bytes the server had kept of an earlier, cut send, which were not sent again. */
  resumedAfter?: number;
}

/** How one upload ended: confirmed, skipped, or failed without harm to the session. */
export type UploadOutcome =
  | { ok: true; confirmed: Confirmed; skipped?: undefined }
  | { ok: true; skipped: string; confirmed?: undefined }
  | {
    ok: false;
    /** Why this file failed. */
    error: ClientError;
    /** Whether the connection can carry the next upload. */
    connectionUsable: boolean;
    skipped?: undefined;
    confirmed?: undefined;
  };

type Expected<C extends number> = Response & { code: C };

/** Reads one response and checks it is one of `codes`; a 1607 or another code is an error. */
async function expect<C extends Response["code"]>(
  connection: ServerConnection,
  action: string,
  ...codes: C[]
): Promise<Expected<C>> {
  const response = await connection.receive();
  if ((codes as number[]).includes(response.code)) return response as Expected<C>;
  if (response.code === ResponseCode.GeneralError) {
    const text = response.text === "" ? "no explanation" : JSON.stringify(response.text);
    throw new ServerError({
      action,
      reason: `the server answered with a general error (1607: ${text})`,
      hint: "Check the server's log, then try again",
    }, response.text);
  }
  throw protocolViolation(
    connection.address,
    `it answered ${response.code} when we tried to ${action}, expected ${codes.join(" or ")}`,
  );
}

/**
 * Unwraps the AES key. In the secure mode, proves to the server that we
 * could, and returns `null`: inside TLS the content is not encrypted a second
 * time (`protocol/padded_content.ts`).
 */
async function unwrapSessionKey(
  connection: ServerConnection,
  privateKey: CryptoKey,
  wrapped: Uint8Array,
  proof: { clientId: ClientId; secure: SignInOptions["secure"] },
): Promise<CryptoKey | null> {
  let raw: Uint8Array;
  try {
    raw = await unwrapAesKey(privateKey, wrapped);
  } catch (error) {
    throw new RejectedError({
      action: `talk to the server at ${connection.address}`,
      reason: "its AES key was not wrapped with our public key (was me.info or priv.key replaced?)",
      hint: "Check that the address is the server you registered with",
    }, { cause: error });
  }
  if (proof.secure !== undefined) {
    await proveKeyPossession(connection, proof.clientId, raw, proof.secure.fingerprint);
    raw.fill(0);
    return null;
  }
  const key = await importAesKey(raw);
  raw.fill(0);
  return key;
}

/**
 * Checks that the stored identity is for `name`: a different name is a
 * configuration error, never a silent re-registration.
 *
 * @throws {ConfigError} if the names differ.
 */
export function checkIdentityName(
  loaded: { identity: Identity; path: string } | undefined,
  name: string,
): void {
  if (loaded === undefined || loaded.identity.name === name) return;
  throw new ConfigError({
    action: "sign in",
    reason: `${loaded.path} is for ${JSON.stringify(loaded.identity.name)} but ` +
      `transfer.info says ${JSON.stringify(name)}`,
    hint: "Use the same name in both, or move me.info and priv.key away to register the new name",
  });
}

/**
 * The error for a 1607 in answer to an upload: one line naming the server's
 * size limit when that is why (our server's text says "over the limit of N
 * bytes").
 */
export function uploadRefused(file: UploadFile, text: string): ServerError {
  const limit = /over the limit of (\d+) bytes/.exec(text);
  if (limit !== null) {
    const max = Number(limit[1]);
    return new ServerError({
      action: `send ${file.path}`,
      reason:
        `the server accepts files of at most ${
          formatBytes(max, { fixed: true })
        } (${max} bytes), and ` +
        `this one is ${formatBytes(file.size, { fixed: true })} (${file.size} bytes)`,
      hint: "Ask the server's operator to raise its --max-file-size, or split the file",
    }, text);
  }
  const quoted = text === "" ? "no explanation" : JSON.stringify(text);
  return new ServerError({
    action: `send ${file.path}`,
    reason: `the server refused it (1607: ${quoted})`,
    hint: "Check the server's log, then try again",
  }, text);
}

/** The first printable-ASCII run of a NUL-padded field, or `undefined` when empty. */
function fieldText(field: Uint8Array): string | undefined {
  const end = field.indexOf(0);
  const text = new TextDecoder().decode(field.subarray(0, end === -1 ? field.length : end));
  return text === "" ? undefined : text;
}

/** A signed-in session: an id and an AES key, ready for uploads. */
export class ClientSession {
  /** Our client id. */
  readonly clientId: ClientId;
  /** Whether signing in registered (825/826). */
  readonly registered: boolean;
  /** Whether the connection is the secure mode's (the transfer requests may be asked). */
  readonly #secure: boolean;
  /**
   * Whether the server answers the transfer requests (docs/protocol.md
   * §13.4); `undefined` until asked.
   */
  #transfers: boolean | undefined;
  /** Answers to 852 asked ahead (the probe), by file. */
  #statuses = new Map<UploadFile, FileStatus | { refused: string }>();
  #connection: ServerConnection;
  /** The AES key; `null` inside TLS (the content is the padded plaintext). */
  #key: CryptoKey | null;
  #onInfo: ((info: string) => void) | undefined;

  /** Made by {@linkcode ClientSession.signIn} only. */
  constructor(
    connection: ServerConnection,
    signedIn: { clientId: ClientId; key: CryptoKey | null; registered: boolean },
    onInfo: ((info: string) => void) | undefined,
  ) {
    this.#secure = signedIn.key === null;
    this.#transfers = this.#secure ? undefined : false;
    this.#connection = connection;
    this.clientId = signedIn.clientId;
    this.#key = signedIn.key;
    this.registered = signedIn.registered;
    this.#onInfo = onInfo;
  }

  /**
   * Gets an AES key for this connection: reconnects with the stored identity,
   * or registers (also when the server does not know us: 1606).
   *
   * @throws {ClientError} with the exit code of the failure.
   */
  static async signIn(
    connection: ServerConnection,
    options: SignInOptions,
  ): Promise<ClientSession> {
    const loaded = await loadIdentity(options.folder);
    if (loaded === undefined && options.registerIfUnknown === false) {
      throw unknownIdentity(
        `sign in as ${JSON.stringify(options.name)}`,
        `there is no identity in ${options.folder} (no me.info), so the server holds no files ` +
          "for it",
      );
    }
    if (loaded === undefined) return await register(connection, options, undefined);
    const { identity, path } = loaded;
    checkIdentityName(loaded, options.name);
    let privateKey: CryptoKey;
    try {
      privateKey = await importPrivateKey(identity.privateKeyDer);
    } catch (error) {
      throw new ConfigError({
        action: `use the private key of ${path}`,
        reason: errorMessage(error),
        hint: "Restore priv.key, or move me.info and priv.key away to register under a new name",
      }, { cause: error });
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
    if (answer.code === ResponseCode.ReconnectDenied && options.registerIfUnknown === false) {
      throw unknownIdentity(
        `sign in as ${JSON.stringify(identity.name)}`,
        `the server does not know this identity (1606), so it holds no files for it`,
      );
    }
    if (answer.code === ResponseCode.ReconnectDenied) {
      options.onInfo?.("the server does not know us (1606): registering again");
      return await register(connection, options, identity);
    }
    if (!bytesEqual(answer.clientId, identity.clientId)) {
      throw new RejectedError({
        action: `talk to the server at ${connection.address}`,
        reason: `it approved the sign-in for id ${clientIdToHex(answer.clientId)}, not ours (${
          clientIdToHex(identity.clientId)
        })`,
        hint: "Check that the address is the server you registered with",
      });
    }
    const key = await unwrapSessionKey(connection, privateKey, answer.wrappedKey, {
      clientId: identity.clientId,
      secure: options.secure,
    });
    return new ClientSession(
      connection,
      { clientId: identity.clientId, key, registered: false },
      options.onInfo,
    );
  }

  /**
   * Whether the server keeps a cut upload for a later run to resume and
   * keeps folder paths: it answers the transfer requests. Asked once, with a
   * file status for `file` (kept for its send).
   */
  async canTransfer(file: UploadFile): Promise<boolean> {
    if (this.#transfers === undefined) {
      const status = await askFileStatus(this.#connection, this.clientId, file);
      this.#transfers = status !== undefined;
      if (status !== undefined) this.#statuses.set(file, status);
    }
    return this.#transfers;
  }

  /** Whether a cut upload is kept for a rerun to resume (known once {@linkcode canTransfer} was asked). */
  get resumable(): boolean {
    return this.#transfers === true;
  }

  /**
   * Sends `file` until the cksums agree, at most {@linkcode MAX_SENDS} times.
   *
   * @returns How the upload ended; a failure that concerns only this file
   * (it changed while read, a 1607, the cksums never agreed) is an outcome.
   * @throws {ClientError} for a failure of the connection or the protocol.
   */
  async sendFile(
    file: UploadFile,
    onProgress?: (sent: number, total: number, attempt: number) => void,
    choices: TransferChoices = {},
  ): Promise<UploadOutcome> {
    try {
      let plan: TransferPlan | undefined;
      if (await this.canTransfer(file)) {
        plan = await this.#plan(file, choices);
        if (plan.skip !== undefined) return { ok: true, skipped: plan.skip };
        if (plan.note !== undefined) this.#onInfo?.(plan.note);
      }
      return { ok: true, confirmed: await this.#sendUntilConfirmed(file, onProgress, plan) };
    } catch (error) {
      if (error instanceof CrcError) return { ok: false, error, connectionUsable: true };
      if (error instanceof ConfigError || error instanceof ServerError) {
        return { ok: false, error, connectionUsable: false };
      }
      throw error;
    }
  }

  /** What the server holds of `file`, and so what to send (852, then the hashes it needs). */
  async #plan(
    file: UploadFile,
    choices: TransferChoices,
  ): Promise<TransferPlan> {
    const status = this.#statuses.get(file) ??
      await askFileStatus(this.#connection, this.clientId, file);
    this.#statuses.delete(file);
    if (status === undefined) throw new Error("Cannot plan: the server stopped answering 852");
    if ("refused" in status) throw uploadRefused(file, status.refused);
    if (file.size > status.maxFileSize) {
      throw uploadRefused(file, `over the limit of ${status.maxFileSize} bytes`);
    }
    return await planTransfer(file, status, choices);
  }

  /**
   * Asks to send from the plan's offset (853); when the server cannot
   * resume, from 0. Returns where the packets start.
   */
  async #sendAt(file: UploadFile, plan: TransferPlan): Promise<{ offset: number; cksum: Cksum }> {
    if (plan.skip !== undefined) throw new Error("Cannot send a skipped file");
    if (plan.offset > 0 && plan.prefix !== undefined) {
      const refused = await askToSendAt(
        this.#connection,
        this.clientId,
        file,
        plan.offset,
        plan.prefix.sha256,
      );
      if (refused === undefined) return { offset: plan.offset, cksum: plan.prefix.cksum };
      this.#onInfo?.(
        `the server could not resume ${file.storedPath} (${refused}); sending it whole`,
      );
    }
    const refused = await askToSendAt(
      this.#connection,
      this.clientId,
      file,
      0,
      new Uint8Array(32),
    );
    if (refused !== undefined) throw uploadRefused(file, refused);
    return { offset: 0, cksum: new Cksum() };
  }

  async #sendUntilConfirmed(
    file: UploadFile,
    onProgress?: (sent: number, total: number, attempt: number) => void,
    plan?: TransferPlan,
  ): Promise<Confirmed> {
    const connection = this.#connection;
    const crcRequest = (code: 900 | 901 | 902) =>
      encodeRequest(this.clientId, { code, fileName: file.pathAsWritten });
    let resumedAfter = 0;
    for (let attempt = 1;; attempt++) {
      let cksum: number;
      // A resend (after 901) goes whole.
      const from = plan === undefined
        ? undefined
        : await this.#sendAt(file, attempt === 1 ? plan : { offset: 0, replaces: false });
      if (attempt === 1) resumedAfter = from?.offset ?? 0;
      try {
        cksum = await sendFile(connection.writer, {
          file,
          key: this.#key,
          clientId: this.clientId,
          onProgress: (sent, total) => onProgress?.(sent, total, attempt),
          ...(from === undefined ? {} : { from }),
        });
      } catch (error) {
        // A server that refuses at the first packet answers 1607 and closes.
        const answer = error instanceof ConfigError
          ? undefined
          : await connection.responseAfterFailure();
        if (answer?.code === ResponseCode.GeneralError) throw uploadRefused(file, answer.text);
        throw connection.failure(`send ${file.name} to ${connection.address}`, error);
      }
      const received = await expect(connection, `send ${file.name}`, ResponseCode.FileReceived);
      if (received.cksum === cksum) {
        await connection.send(crcRequest(RequestCode.CrcOk));
        await expect(connection, "confirm the cksum", ResponseCode.Ack);
        const storedName = plan === undefined
          ? fieldText(received.fileNameField) ?? file.name
          : file.storedPath;
        return {
          cksum,
          sends: attempt,
          storedName,
          ...(plan?.skip === undefined && plan !== undefined ? { replaced: plan.replaces } : {}),
          ...(resumedAfter > 0 ? { resumedAfter } : {}),
        };
      }
      if (attempt === MAX_SENDS) {
        await connection.send(crcRequest(RequestCode.CrcAbort));
        await expect(connection, "report the failed cksum", ResponseCode.Ack);
        throw new CrcError({
          action: `send ${file.name}`,
          reason: `the server's cksum (${received.cksum}) differed from ours (${cksum}) ` +
            `on all ${MAX_SENDS} sends`,
          hint: "Check the network and the server, then try again",
        });
      }
      // Information, not an error: the next send may well succeed.
      this.#onInfo?.(
        `send ${attempt} of ${MAX_SENDS}: the server's cksum ${received.cksum} is not ours ` +
          `(${cksum}); sending again`,
      );
      await connection.send(crcRequest(RequestCode.CrcRetry));
    }
  }
}

/**
 * Registers `options.name` (825, 826), sets aside the identity files this
 * replaces, and writes the new ones.
 *
 * @param previous The identity the server did not know (1606), if any.
 */
async function register(
  connection: ServerConnection,
  options: SignInOptions,
  previous: Identity | undefined,
): Promise<ClientSession> {
  const keyPair = generateRsaKeyPair();
  keyPair.catch(() => {}); // Awaited below; never an unhandled rejection.
  const headerId = previous?.clientId ?? ZERO_CLIENT_ID;
  const quoted = JSON.stringify(options.name);
  await connection.send(
    encodeRequest(headerId, { code: RequestCode.Register, name: options.name }),
  );
  const registered = await expect(
    connection,
    `register as ${quoted}`,
    ResponseCode.Registered,
    ResponseCode.RegisterFailed,
  );
  if (registered.code === ResponseCode.RegisterFailed) {
    const text = registered.text === "" ? "" : ` (${JSON.stringify(registered.text)})`;
    throw new RejectedError({
      action: `register as ${quoted}`,
      reason: `the server refused (1601)${text}; the name is probably taken`,
      hint: "Choose another name in transfer.info, " +
        "or bring back the me.info and priv.key registered under this name " +
        "(a copy set aside earlier is named me.info.<id>.old)",
    });
  }
  const { publicKey, privateKey, privateKeyDer } = await keyPair;
  const clientId = registered.clientId;
  await connection.send(
    encodeRequest(clientId, { code: RequestCode.PublicKey, name: options.name, publicKey }),
  );
  const accepted = await expect(
    connection,
    "send our public key",
    ResponseCode.KeyAccepted,
    ResponseCode.RegisterFailed,
  );
  if (accepted.code === ResponseCode.RegisterFailed) {
    // Another connection registered the name and sent its key first (the
    // registration race of docs/protocol.md §5): not a protocol violation.
    throw new RejectedError({
      action: `register as ${quoted}`,
      reason: "the name was taken by another client a moment ago: choose another name",
      hint: "Put it on line 2 of transfer.info and run the client again",
    });
  }
  const key = await unwrapSessionKey(connection, privateKey, accepted.wrappedKey, {
    clientId,
    secure: options.secure,
  });
  const moved = await setAsideIdentity(options.folder, previous);
  if (moved.length > 0) {
    const id = previous === undefined ? "" : ` (id ${clientIdToHex(previous.clientId)})`;
    options.onNote?.(`kept the identity this registration replaces${id} as ${moved.join(" and ")}`);
  }
  await saveIdentity(options.folder, { name: options.name, clientId, privateKeyDer });
  options.onInfo?.(`registered as ${quoted}, id ${clientIdToHex(clientId)}`);
  return new ClientSession(connection, { clientId, key, registered: true }, options.onInfo);
}
