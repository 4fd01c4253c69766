/**
 * One client connection: reads request frames, keeps the connection's state
 * (who the client is, its AES key, the upload awaiting a verdict) and answers.
 *
 * | request | accepted when                                              | answer        |
 * |---------|------------------------------------------------------------|---------------|
 * | 825     | nobody is signed in on this connection                     | 1600 or 1601  |
 * | 826     | the name is the one this connection registered with 825    | 1602 (1601 if the name was taken meanwhile) |
 * | 827     | the header id and name match a registered client           | 1605 or 1606  |
 * | 828     | after 826 or 827 on this connection, with that client's id | 1603 (1607 over the client's limits) |
 * | 900     | after a 1603 on this connection                            | 1604          |
 * | 901     | after a 1603 on this connection; the next request must be 828 | none       |
 * | 902     | after a 1603 on this connection                            | 1604          |
 * | 850     | plain port, secure mode on: the discovery request (issue 13) | 1650        |
 * | 851     | secure port, after 1602 or 1605: the key proof (`tls_proof.ts`) | 1604, or 1607 and closed |
 *
 * On the secure port (TLS), 828, 900, 901 and 902 need the key proof first,
 * and the 828 content is the padded plaintext, not AES-CBC (TLS encrypts).
 *
 * A client is recorded only when its key arrives (826): 825 checks that the
 * name is free and hands out an id, but reserves nothing. Name and id travel
 * in clear, so an 826 on any other connection is refused.
 *
 * What becomes of an upload:
 * - kept (cksum == trailer, right padding): its staged file waits, sealed;
 *   the 1603 carries our cksum;
 * - not kept: the staged file is discarded, and the 1603 carries the
 *   complement of the trailer, revealing nothing about the decryption
 *   (`verdict.ts`);
 * - 900 commits a kept upload (`commit.ts`: it takes its final name and is
 *   recorded, verified), then answers 1604; 900 for an upload not kept gets
 *   1607, and so does one over the client's limits (nothing stored changes);
 * - 901, 902, a new 828, a new sign-in or the end of the connection discard
 *   the staged file. They never touch a stored file.
 *
 * Errors: a request that makes no sense here, or whose payload does not
 * decode (a bad name, a bad key), gets 1607 and the connection goes on. An
 * unknown code gets 1607; a payload of up to 4 KiB is skipped and the
 * connection goes on, a larger one closes it. After {@linkcode MAX_REJECTIONS}
 * such 1607s the connection is closed. A frame that cannot be parsed
 * (a payload size wrong for its code, a bad packet, 828 before a key
 * exchange) gets 1607 and the connection is closed. An upload the server
 * cannot store (disk full, folder unwritable), or that would take the client
 * past its limits (checked at the first packet, again at commit), is read to
 * its end, then gets 1607 instead of 1603, and the connection goes on.
 *
 * Frames are read with the protocol's request-frame reader (`readRequestHeader`,
 * `readRequestPayload`), uploads by `upload.ts`.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { formatBytes } from "../../common/units.ts";
import { isConnectionLost } from "../../common/connection_lost.ts";
import {
  bytesEqual,
  type ClientId,
  clientIdToHex,
  decodeRequest,
  encodeResponse,
  ExactReader,
  generateAesKey,
  importAesKey,
  importPublicKey,
  ProtocolError,
  readRequestHeader,
  readRequestPayload,
  type Request,
  RequestCode,
  type RequestHeader,
  requestPayloadSize,
  type Response,
  ResponseCode,
  wrapAesKey,
} from "../../protocol/mod.ts";
import type { BufferBudget } from "../upload/buffer_budget.ts";
import { admission, type CommitOptions, commitUpload, limitText } from "../upload/commit.ts";
import { type FileStore, StorageError } from "../storage/file_store.ts";
import type { Registry } from "../storage/registry.ts";
import { connectionLogger, forClient } from "../log/log_context.ts";
import type { TimedConn } from "../net/timed_conn.ts";
import { KeyProofGate } from "./tls_proof.ts";
import { DISCOVERY_REQUEST_CODE } from "../../protocol/discovery.ts";
import { KEY_PROOF_REQUEST_CODE, KEY_PROOF_SIZE } from "../../protocol/key_proof.ts";
import { receiveUpload, UploadRefusedError, type UploadResult } from "../upload/upload.ts";
import { answeredCksum } from "../upload/verdict.ts";

/** Largest payload of an unknown request that is skipped rather than closing the connection. */
export const MAX_SKIPPED_PAYLOAD = 4096;

/** Rejected requests on one connection logged in full; the rest are counted in one line. */
export const LOGGED_REJECTIONS = 1;
/**
 * Rejected requests (1607) after which a connection is closed: a client that
 * resends a request the server does not accept gets nowhere, and the log
 * grows by less than what it sends.
 */
export const MAX_REJECTIONS = 32;

/**
 * The connection's read buffer. Requests are at most 438 bytes, and upload
 * batches are read straight into their own buffer, so a small buffer is
 * enough; many short connections then leave little garbage behind.
 */
const READ_BUFFER_SIZE = 4096;

/** Longest 1607 text. */
const MAX_ERROR_TEXT = 200;

/** What every session shares. */
export interface SessionContext {
  /** Where uploads are staged and stored. */
  store: FileStore;
  /** Largest original file size accepted. */
  maxFileSize: number;
  /** The registry, the per-client limits and this instance, for commits. */
  commit: CommitOptions;
  /** The memory every upload's batch buffers come from. */
  uploadBuffers: BufferBudget;
  /** On the plain port when the secure mode is on: the discovery answer to send to 850. */
  discoveryAnswer?: Uint8Array;
  /** On the secure port: the certificate's fingerprint, to which key proofs are bound. */
  secure?: { fingerprint: Uint8Array };
}

/** The client signed in on this connection and its key. */
interface SignedIn {
  clientId: ClientId;
  name: string;
  aesKey: CryptoKey;
}

/** The result of the last upload, until the client's verdict. */
interface AwaitingVerdict {
  upload: UploadResult;
}

/**
 * Serves one connection until the peer leaves, breaks the protocol, times
 * out, or the server shuts down.
 */
export class ClientSession {
  readonly #conn: TimedConn;
  readonly #ctx: SessionContext;
  readonly #id: number;
  #logger: Logger;
  readonly #peer: string;
  /** The name of the file being received, once its first packet is read. */
  #receiving: string | undefined;
  #registered: { clientId: ClientId; name: string } | undefined;
  #signedIn: SignedIn | undefined;
  #awaiting: AwaitingVerdict | undefined;
  #expectUpload = false;
  #uploading = false;
  #waitingForRequest = false;
  #idleSince = 0;
  #shuttingDown = false;
  #evictedFor: string | undefined;
  #rejections = 0;
  /** On the secure port: whether the client proved its key (851). */
  readonly #proofGate: KeyProofGate | undefined;

  /**
   * Creates a session; {@linkcode ClientSession.run} serves it.
   *
   * @param conn The connection, owned by the session from now on.
   * @param peer The peer address, for the log.
   * @param id A number naming the connection in the log.
   * @param ctx What every session shares.
   */
  constructor(conn: TimedConn, peer: string, id: number, ctx: SessionContext) {
    this.#conn = conn;
    this.#peer = peer;
    this.#ctx = ctx;
    this.#proofGate = ctx.secure === undefined
      ? undefined
      : new KeyProofGate(ctx.secure.fingerprint);
    this.#id = id;
    this.#logger = connectionLogger(id).with({ peer });
    conn.onTimeout = () => {
      this.#logger.warn("Timed out: no data in time");
    };
  }

  /**
   * Whether the connection is in the middle of an upload or its verdict:
   * a shutdown lets it finish, up to the grace period.
   */
  get #registry(): Registry {
    return this.#ctx.commit.registry;
  }

  get busy(): boolean {
    return this.#uploading || this.#awaiting !== undefined || this.#expectUpload;
  }

  /**
   * What a busy connection is doing, for the shutdown message:
   * `connection 3 (Alice) receiving report.pdf`; `undefined` when not busy.
   */
  get activity(): string | undefined {
    if (!this.busy) return undefined;
    const who = this.#signedIn === undefined
      ? `connection ${this.#id}`
      : `connection ${this.#id} (${this.#signedIn.name})`;
    const awaiting = this.#awaiting?.upload.fileName;
    if (this.#uploading) return `${who} receiving ${this.#receiving ?? "a file"}`;
    if (awaiting !== undefined) return `${who}: ${awaiting} awaits the client's confirmation`;
    return `${who}: the client is to send its file again`;
  }

  /**
   * Asks the session to end: at once if it is waiting for a request and not
   * busy, otherwise as soon as it is no longer busy.
   */
  shutdown(): void {
    this.#shuttingDown = true;
    if (this.#waitingForRequest && !this.busy) this.#conn.close();
  }

  /**
   * Since when (`performance.now()`) the connection has been idle: waiting
   * for a request, not one byte of it read, and not busy. `undefined` when
   * it is not idle.
   */
  get idleSince(): number | undefined {
    return this.#waitingForRequest && !this.busy && this.#conn.awaitingRequest
      ? this.#idleSince
      : undefined;
  }

  /**
   * Whether a client signed in on this connection (826 or 827 accepted; on
   * the secure port, and its key proven).
   */
  get signedIn(): boolean {
    return this.#signedIn !== undefined && (this.#proofGate?.proven ?? true);
  }

  /**
   * Whether a request is being read or answered: its header has arrived and
   * the session is not yet waiting for the next one. A sign-in in progress
   * (an 826 whose key is being stored, say) is let finish.
   */
  get handlingRequest(): boolean {
    return !this.#waitingForRequest;
  }

  /** Closes the connection for `reason` (to make room for a new one, say). */
  evict(reason: string): void {
    this.#evictedFor ??= reason;
    this.#conn.close();
  }

  /** Ends the session now, busy or not. */
  abort(): void {
    this.#shuttingDown = true;
    this.#conn.close();
  }

  /** Serves requests until the end; never rejects. */
  async run(): Promise<void> {
    this.#logger.info("Opened from {peer}");
    const reader = new ExactReader(this.#conn, READ_BUFFER_SIZE);
    let reason = "the client closed it";
    try {
      while (!(this.#shuttingDown && !this.busy)) {
        this.#waitingForRequest = true;
        this.#idleSince = performance.now();
        this.#conn.beginRequest();
        const header = await readRequestHeader(reader);
        this.#waitingForRequest = false;
        if (header === null) break;
        if (!(await this.#handle(header, reader))) {
          reason = "the server closed it after an error";
          break;
        }
        if (this.#rejections >= MAX_REJECTIONS) {
          reason = `${MAX_REJECTIONS} requests were rejected`;
          break;
        }
        this.#conn.endRequest();
      }
      if (this.#shuttingDown && !this.#conn.closed) reason = "the server is shutting down";
    } catch (error) {
      reason = await this.#failed(error);
    } finally {
      await this.#forgetAwaiting();
      this.#conn.close();
      if (this.#rejections > LOGGED_REJECTIONS) {
        this.#logger.warn("{count} more rejections from {peer}", {
          count: this.#rejections - LOGGED_REJECTIONS,
        });
      }
      this.#logger.info("Closed: {reason}", { reason });
    }
  }

  async #failed(error: unknown): Promise<string> {
    if (this.#evictedFor !== undefined) {
      this.#logger.warn("Closed by the server: {reason}", {
        reason: this.#evictedFor,
      });
      return this.#evictedFor;
    }
    if (this.#conn.requestTooSlow) {
      this.#logger.warn(
        "Connection {connection} from {peer} too slow: a request did not arrive in time",
      );
      return "request timeout";
    }
    if (this.#conn.timedOut) return "idle timeout"; // logged when it fired
    if (this.#shuttingDown && this.#conn.closed) return "the server is shutting down";
    if (error instanceof ProtocolError) {
      this.#logger.warn("Rejected: {reason}; closing", { reason: error.message });
      await this.#send({ code: ResponseCode.GeneralError, text: shortText(error.message) })
        .catch(() => {});
      return "protocol error";
    }
    if (error instanceof Deno.errors.InvalidData && this.#proofGate !== undefined) {
      this.#logger.warn("Connection {connection} from {peer}: TLS failed: {reason}", {
        reason: error.message,
      });
      return "TLS error";
    }
    if (
      error instanceof Deno.errors.UnexpectedEof && this.#proofGate !== undefined &&
      this.#waitingForRequest && this.#conn.awaitingRequest
    ) {
      // TLS without close_notify, between two requests: frames are
      // self-delimiting, so nothing was cut; as a plain close.
      return "the client closed it";
    }
    if (error instanceof Deno.errors.UnexpectedEof) {
      this.#logger.warn("Ended in the middle of a request: {reason}", {
        reason: error.message,
      });
      return "truncated frame";
    }
    if (isConnectionLost(error)) {
      this.#logger.warn("Lost: {reason}", {
        reason: String(error),
      });
      return "connection lost";
    }
    this.#logger.error("Failed: {error}", { error });
    return "internal error";
  }

  /** Handles one request; returns whether the connection goes on. */
  async #handle(header: RequestHeader, reader: ExactReader): Promise<boolean> {
    const { code } = header;
    if (code === DISCOVERY_REQUEST_CODE && this.#ctx.discoveryAnswer !== undefined) {
      this.#conn.endHeader();
      await this.#conn.write(this.#ctx.discoveryAnswer);
      return true;
    }
    if (code === KEY_PROOF_REQUEST_CODE && this.#proofGate !== undefined) {
      await this.#keyProof(header, reader, this.#proofGate);
      return true;
    }
    if (requestPayloadSize(code) === undefined) return await this.#skipUnknown(header, reader);
    const payload = await readRequestPayload(reader, header);
    this.#conn.endHeader();
    if (this.#expectUpload && code !== RequestCode.SendFile) {
      await this.#forgetAwaiting();
      await this.#reject(code, "after 901 the next request must be 828");
      return true;
    }
    let request: Request;
    try {
      request = decodeRequest(code, payload);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      await this.#reject(code, error.message);
      return true;
    }
    switch (request.code) {
      case RequestCode.Register:
        await this.#register(request.name);
        return true;
      case RequestCode.PublicKey:
        await this.#publicKey(request.name, request.publicKey);
        return true;
      case RequestCode.Reconnect:
        await this.#reconnect(header.clientId, request.name);
        return true;
      case RequestCode.SendFile:
        await this.#sendFile(header.clientId, reader);
        return true;
      default:
        await this.#verdict(header.clientId, request.code);
        return true;
    }
  }

  /**
   * Checks a key proof (851, secure port only): the client shows it could
   * unwrap the AES key just sent. Right: 1604. Wrong, or none due: 1607 and
   * the connection closes.
   */
  async #keyProof(header: RequestHeader, reader: ExactReader, gate: KeyProofGate): Promise<void> {
    if (header.payloadSize !== KEY_PROOF_SIZE) {
      throw new ProtocolError(
        `Cannot accept key proof: payload size ${header.payloadSize} instead of ${KEY_PROOF_SIZE}`,
      );
    }
    const proof = await reader.readExact(KEY_PROOF_SIZE, KEY_PROOF_SIZE);
    this.#conn.endHeader();
    const signedIn = this.#signedIn;
    if (signedIn === undefined || !gate.due || !bytesEqual(header.clientId, signedIn.clientId)) {
      throw new ProtocolError("Cannot accept key proof: no AES key sent to this client awaits one");
    }
    if (!gate.check(proof)) {
      throw new ProtocolError(
        `Cannot accept key proof: ${signedIn.name} did not prove it holds the private key`,
      );
    }
    this.#logger.info("{name} ({clientId}) proved it holds its private key", {
      name: signedIn.name,
      clientId: clientIdToHex(signedIn.clientId),
    });
    await this.#send({ code: ResponseCode.Ack, clientId: signedIn.clientId });
  }

  /** On the secure port, nothing acts under an identity before its key proof. */
  #requireProof(what: string): void {
    if (this.#proofGate !== undefined && !this.#proofGate.proven) {
      throw new ProtocolError(
        `Cannot accept ${what}: the client has not proven it holds its private key (851)`,
      );
    }
  }

  /** An unknown code: 1607, then its payload is skipped (small) or the connection closed. */
  async #skipUnknown(header: RequestHeader, reader: ExactReader): Promise<boolean> {
    const { code, payloadSize } = header;
    await this.#reject(code, `unknown request code ${code}`);
    if (payloadSize > MAX_SKIPPED_PAYLOAD) {
      this.#logger.warn("Closing: a payload of {payloadSize} bytes is too large to skip", {
        payloadSize,
      });
      return false;
    }
    await reader.skip(payloadSize);
    return true;
  }

  async #register(name: string): Promise<void> {
    if (this.#registered !== undefined || this.#signedIn !== undefined) {
      await this.#reject(
        RequestCode.Register,
        this.#signedIn !== undefined
          ? "a client is already signed in on this connection"
          : `this connection is registering ${this.#registered!.name}: send its key (826)`,
      );
      return;
    }
    if (await this.#registry.clientByName(name) !== undefined) {
      await this.#nameTaken(name);
      return;
    }
    const clientId = crypto.getRandomValues(new Uint8Array(16));
    this.#registered = { clientId, name };
    this.#logger.info("Name {name} is free: offered id {clientId}, waiting for its key (826)", {
      name,
      clientId: clientIdToHex(clientId),
    });
    await this.#send({ code: ResponseCode.Registered, clientId });
  }

  async #nameTaken(name: string): Promise<void> {
    this.#logger.warn("Registration of {name} refused: the name is taken", { name });
    await this.#send({
      code: ResponseCode.RegisterFailed,
      text: shortText(`Registration failed: the name '${name}' is taken.`),
    });
  }

  async #publicKey(name: string, publicKey: Uint8Array): Promise<void> {
    const registered = this.#registered;
    // Name and id travel in clear: only the connection that sent the 825
    // may send its key.
    if (registered === undefined || registered.name !== name) {
      await this.#reject(
        RequestCode.PublicKey,
        "826 is accepted only on the connection that registered the name with 825",
      );
      return;
    }
    let key: CryptoKey;
    try {
      key = await importPublicKey(publicKey);
    } catch (error) {
      await this.#reject(RequestCode.PublicKey, (error as Error).message);
      return;
    }
    const { clientId } = registered;
    if (!(await this.#registry.addClient({ id: clientId, name, publicKey }))) {
      this.#registered = undefined;
      await this.#nameTaken(name);
      return;
    }
    this.#registered = undefined;
    this.#logger.info("Registered {name} as {clientId}", {
      name,
      clientId: clientIdToHex(clientId),
    });
    await this.#signIn(clientId, name, key, ResponseCode.KeyAccepted);
    this.#logger.info("Key exchange with {name} ({clientId}): public key stored, AES key sent", {
      name,
      clientId: clientIdToHex(clientId),
    });
  }

  async #reconnect(headerId: ClientId, name: string): Promise<void> {
    const client = await this.#registry.clientByName(name);
    if (client === undefined || !bytesEqual(client.id, headerId)) {
      this.#logger.warn("Reconnect of {name} denied: {reason}", {
        name,
        reason: client === undefined ? "unknown name" : "the client id does not match",
      });
      await this.#send({
        code: ResponseCode.ReconnectDenied,
        text: shortText(`Sign in failed for '${name}'. Please register.`),
      });
      return;
    }
    let key: CryptoKey;
    try {
      key = await importPublicKey(client.publicKey);
    } catch (error) {
      await this.#reject(RequestCode.Reconnect, (error as Error).message);
      return;
    }
    await this.#registry.touchClient(client.id);
    await this.#signIn(client.id, name, key, ResponseCode.ReconnectApproved);
    this.#logger.info("Reconnected {name} ({clientId}): fresh AES key sent", {
      name,
      clientId: clientIdToHex(client.id),
    });
  }

  async #signIn(
    clientId: ClientId,
    name: string,
    publicKey: CryptoKey,
    code: typeof ResponseCode.KeyAccepted | typeof ResponseCode.ReconnectApproved,
  ): Promise<void> {
    const raw = generateAesKey();
    const wrappedKey = await wrapAesKey(publicKey, raw);
    this.#signedIn = { clientId, name, aesKey: await importAesKey(raw) };
    this.#logger = forClient(this.#logger, name);
    await this.#proofGate?.challenge(raw);
    raw.fill(0);
    await this.#forgetAwaiting();
    await this.#send({ code, clientId, wrappedKey });
  }

  async #sendFile(headerId: ClientId, reader: ExactReader): Promise<void> {
    const signedIn = this.#signedIn;
    if (signedIn === undefined) {
      throw new ProtocolError(
        "Cannot accept file: no key exchange (826 or 827) on this connection",
      );
    }
    if (!bytesEqual(headerId, signedIn.clientId)) {
      throw new ProtocolError(
        "Cannot accept file: the header's client id is not this connection's",
      );
    }
    this.#requireProof("file");
    await this.#forgetAwaiting();
    this.#uploading = true;
    let upload: UploadResult;
    try {
      upload = await receiveUpload({
        reader,
        clientId: signedIn.clientId,
        // Inside TLS the content is not encrypted a second time.
        aesKey: this.#proofGate === undefined ? signedIn.aesKey : null,
        store: this.#ctx.store,
        maxFileSize: this.#ctx.maxFileSize,
        buffers: this.#ctx.uploadBuffers,
        logger: this.#logger,
        admit: (fileName, size) => {
          this.#receiving = fileName;
          return admission(this.#ctx.commit, signedIn.clientId, fileName, size);
        },
      });
    } catch (error) {
      if (error instanceof UploadRefusedError) {
        await this.#reject(RequestCode.SendFile, error.message);
        return;
      }
      await this.#storageFailed(error, RequestCode.SendFile);
      return;
    } finally {
      this.#uploading = false;
      this.#receiving = undefined;
    }
    this.#awaiting = { upload };
    await this.#registry.touchClient(signedIn.clientId);
    this.#logUpload(upload);
    await this.#send({
      code: ResponseCode.FileReceived,
      clientId: signedIn.clientId,
      contentSize: upload.contentSize,
      fileNameField: upload.fileNameField,
      cksum: answeredCksum(upload),
    });
  }

  #logUpload(upload: UploadResult): void {
    const seconds = upload.durationMs / 1000;
    const speed = upload.originalSize === 0 || seconds <= 0
      ? ""
      : `, ${formatBytes(Math.round(upload.originalSize / seconds))}/s`;
    this.#logger.info(
      "Received {fileName}: {size}, cksum {cksum}, the client's cksum {clientCksum}; {outcome}; " +
        "{seconds} s{speed}",
      {
        fileName: upload.fileName,
        size: formatBytes(upload.originalSize),
        cksum: upload.cksum,
        clientCksum: upload.trailer,
        outcome: upload.refusal === undefined
          ? "kept aside until the client confirms it"
          : `not kept: ${upload.refusal}`,
        seconds: Number(seconds.toFixed(3)),
        speed,
      },
    );
  }

  async #verdict(
    headerId: ClientId,
    code: typeof RequestCode.CrcOk | typeof RequestCode.CrcRetry | typeof RequestCode.CrcAbort,
  ): Promise<void> {
    const signedIn = this.#signedIn;
    const awaiting = this.#awaiting;
    if (signedIn === undefined || awaiting === undefined) {
      await this.#reject(code, "no file received on this connection awaits a verdict");
      return;
    }
    if (!bytesEqual(headerId, signedIn.clientId)) {
      await this.#reject(code, "the header's client id is not this connection's");
      return;
    }
    this.#requireProof(`request ${code}`);
    const { upload } = awaiting;
    this.#awaiting = undefined;
    if (code === RequestCode.CrcOk) {
      await this.#confirm(signedIn, upload);
      return;
    }
    await upload.staged?.discard().catch(() => {});
    if (code === RequestCode.CrcRetry) {
      this.#expectUpload = true;
      this.#logger.info("The client will send {fileName} again (901)", {
        fileName: upload.fileName,
      });
      return;
    }
    this.#logger.warn("The client gave up on {fileName} (902)", {
      fileName: upload.fileName,
    });
    await this.#send({ code: ResponseCode.Ack, clientId: signedIn.clientId });
  }

  /** 900: commits a kept upload, then answers 1604. */
  async #confirm(signedIn: SignedIn, upload: UploadResult): Promise<void> {
    const { staged, fileName } = upload;
    if (staged === undefined) {
      await this.#reject(RequestCode.CrcOk, "the file was not kept: its cksum did not match");
      return;
    }
    let refusal;
    try {
      refusal = await commitUpload({
        clientId: signedIn.clientId,
        fileName,
        staged,
        size: upload.originalSize,
        cksum: upload.cksum,
        sha256: upload.sha256,
      }, this.#ctx.commit);
    } catch (error) {
      await this.#storageFailed(error, RequestCode.CrcOk);
      return;
    }
    if (refusal !== undefined) {
      await this.#reject(RequestCode.CrcOk, limitText(fileName, refusal, this.#ctx.commit.limits));
      return;
    }
    this.#logger.info("{fileName} confirmed by the client and stored in {path}", {
      fileName,
      path: this.#ctx.store.describe(staged.location),
    });
    await this.#send({ code: ResponseCode.Ack, clientId: signedIn.clientId });
  }

  /** Answers a storage failure with 1607 (the connection goes on); rethrows anything else. */
  async #storageFailed(error: unknown, code: number): Promise<void> {
    if (!(error instanceof StorageError)) throw error;
    this.#logger.error("{message}; the upload was dropped", { message: error.message });
    await this.#reject(code, "the server could not store the file");
  }

  /** Discards the upload awaiting a verdict, if any; never touches a stored file. */
  async #forgetAwaiting(): Promise<void> {
    const staged = this.#awaiting?.upload.staged;
    this.#awaiting = undefined;
    this.#expectUpload = false;
    await staged?.discard().catch(() => {});
  }

  async #reject(code: number, reason: string): Promise<void> {
    if (++this.#rejections <= LOGGED_REJECTIONS) {
      this.#logger.warn("Rejected request {code}: {reason}", { code, reason });
    }
    await this.#send({ code: ResponseCode.GeneralError, text: shortText(reason) });
  }

  async #send(response: Response): Promise<void> {
    await this.#conn.write(encodeResponse(response));
  }
}

function shortText(text: string): string {
  return text.length <= MAX_ERROR_TEXT ? text : `${text.slice(0, MAX_ERROR_TEXT - 3)}...`;
}
