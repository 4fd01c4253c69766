/**
 * One TCP connection to the server: opening it (the one place that does),
 * writing whole frames, and reading responses with every size checked against
 * the code before a byte of payload is read.
 *
 * Deadlines: each write must make progress within the timeout, and each whole
 * response (header and payload) must arrive within it, so a server that
 * trickles one byte at a time cannot hold the client longer than the timeout
 * per response. Socket failures become {@linkcode NetworkError}s (exit code
 * 3), a peer that breaks the protocol a {@linkcode RejectedError} (exit code
 * 4), and a host name that does not resolve a {@linkcode ConfigError} (exit
 * code 2, not retried).
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import { isNetworkFailure } from "../common/connection_lost.ts";
import { withDeadline } from "../common/deadline.ts";
import { writeAll, type Writer } from "../common/write_all.ts";
import { maxTransferResponseSize } from "../protocol/transfers.ts";
import {
  decodeResponse,
  ExactReader,
  maxResponsePayloadSize,
  PROTOCOL_VERSION,
  ProtocolError,
  readResponseFrame,
  type Response,
  RESPONSE_HEADER_SIZE,
  type ResponseFrame,
} from "../protocol/mod.ts";
import { formatAddress } from "../common/address.ts";
import { errorMessage } from "../common/error_message.ts";
import { ClientError, ConfigError, NetworkError, RejectedError } from "./client_error.ts";

/** Default for how long one response or one write may take: 60 s. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** How many of a connection's first bytes are kept, to quote a peer that is not ours. */
const FIRST_BYTES_KEPT = 80;

/** Where the address came from, for hints: `/x/transfer.info line 1`. */
export interface OpenOptions {
  /** How long one response or one write may take, in ms; 0 for no limit. */
  timeoutMs?: number;
  /** Where the host and port were written, named in hints. */
  source?: string;
}

/** Resolver error codes that mean "this name does not exist". */
const UNKNOWN_HOST_CODES = new Set(["ENOTFOUND", "EAI_NONAME", "EAI_NODATA", "ENODATA"]);

/**
 * Explains a failed connect: a lost or refused connection is retryable; a
 * host name that does not resolve is a configuration error; anything else is
 * returned unchanged (a bug, reported with its stack).
 *
 * @param source Where host and port were written, for the hint.
 */
export async function connectFailure(
  host: string,
  port: number,
  source: string,
  error: unknown,
): Promise<unknown> {
  const address = formatAddress(host, port);
  if (error instanceof Deno.errors.ConnectionRefused) {
    return new NetworkError({
      action: `connect to ${address}`,
      reason: `the server is not running (nothing listens on port ${port}: ${error.message})`,
      hint: `Check that the server is running and that ${source} names its port, then try again`,
    }, { cause: error });
  }
  if (isNetworkFailure(error)) return networkError(`connect to ${address}`, error);
  try {
    await lookup(host);
  } catch (lookupError) {
    const code = (lookupError as { code?: unknown }).code;
    if (typeof code !== "string") return error;
    if (!UNKNOWN_HOST_CODES.has(code)) {
      return new NetworkError({
        action: `connect to ${address}`,
        reason: `the host name ${host} cannot be looked up now (${code})`,
        hint: "Check the network connection, then try again",
      }, { cause: lookupError });
    }
    return new ConfigError({
      action: `connect to ${address}`,
      reason: `the host name ${host} does not exist (${code})`,
      hint: `Check the host name on ${source}`,
    }, { cause: error });
  }
  return error; // The name resolves: the failure is not one we know.
}

/**
 * Opens a TCP connection to `host:port`. The one place where the client
 * connects: a secure transport would be chosen here.
 *
 * @throws {NetworkError} if the server cannot be reached.
 * @throws {ConfigError} if the host name does not resolve.
 */
export async function openConnection(host: string, port: number): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: host, port, transport: "tcp" });
  conn.setNoDelay(true);
  return conn;
}

/** Whether `bytes` read as text: printable ASCII, tabs and line ends. */
function looksLikeText(bytes: Uint8Array): boolean {
  return bytes.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x09 || b === 0x0a || b === 0x0d);
}

/** A connection to the server at `host:port`. */
export class ServerConnection {
  /** `host:port` as given, for messages. */
  readonly address: string;
  #conn: Deno.Conn;
  #reader: ExactReader;
  #writer: Writer;
  #timeoutMs: number;
  #source: string;
  #timedOut = false;
  #closed = false;
  #bytesReceived = 0;
  #firstBytes = new Uint8Array(FIRST_BYTES_KEPT);

  private constructor(conn: Deno.Conn, address: string, options: OpenOptions) {
    this.#conn = conn;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#source = options.source ?? "transfer.info line 1";
    this.#reader = new ExactReader({ read: (p) => this.#read(p) }, 4096);
    this.#writer = { write: (p) => this.#withDeadline(conn.write(p)) };
    this.address = address;
  }

  /**
   * Connects once (no retries: the caller retries whole conversations).
   *
   * @param timeoutMs How long one response or one write may take; 0 for no limit.
   * @throws {NetworkError} if the server cannot be reached.
   * @throws {ConfigError} if the host name does not resolve.
   */
  static async open(
    host: string,
    port: number,
    timeoutMs: number = DEFAULT_TIMEOUT_MS,
    options: Omit<OpenOptions, "timeoutMs"> = {},
  ): Promise<ServerConnection> {
    const source = options.source ?? "transfer.info line 1";
    try {
      const conn = await openConnection(host, port);
      return new ServerConnection(conn, formatAddress(host, port), { timeoutMs, source });
    } catch (error) {
      throw await connectFailure(host, port, source, error);
    }
  }

  /**
   * Takes over a connection opened elsewhere (the secure mode's TLS
   * connection, handshake done).
   *
   * @param address `host:port` for messages.
   * @param timeoutMs How long one read or write may wait; 0 for no limit.
   */
  static over(conn: Deno.Conn, address: string, timeoutMs: number): ServerConnection {
    return new ServerConnection(conn, address, { timeoutMs });
  }

  /** Bytes the server sent on this connection so far. */
  get bytesReceived(): number {
    return this.#bytesReceived;
  }

  /** The writer for the streamed upload; each write has the deadline too. */
  get writer(): Writer {
    return this.#writer;
  }

  /** Reads from the socket, keeping the connection's first bytes. */
  async #read(p: Uint8Array): Promise<number | null> {
    const n = await this.#conn.read(p);
    if (n === null) return null;
    if (this.#bytesReceived < FIRST_BYTES_KEPT) {
      this.#firstBytes.set(
        p.subarray(0, Math.min(n, FIRST_BYTES_KEPT - this.#bytesReceived)),
        this.#bytesReceived,
      );
    }
    this.#bytesReceived += n;
    return n;
  }

  /** Settles like `operation`, or closes the connection when the timeout passes first. */
  #withDeadline<T>(operation: Promise<T>): Promise<T> {
    return withDeadline(operation, this.#timeoutMs, {
      onExpire: () => {
        this.#timedOut = true;
        this.close();
      },
    });
  }

  /**
   * Writes a whole frame.
   *
   * @throws {NetworkError} if the connection fails.
   */
  async send(bytes: Uint8Array, action = "send a request"): Promise<void> {
    try {
      await writeAll(this.#writer, bytes);
    } catch (error) {
      throw this.failure(`${action} to ${this.address}`, error);
    }
  }

  /**
   * Reads one response, header and payload, within one deadline; the payload
   * is no larger than its code allows.
   *
   * @throws {NetworkError} if the connection drops or the response is late.
   * @throws {RejectedError} for a peer that is not a file transfer server, an
   * unknown code, an oversized or malformed payload.
   */
  async receive(): Promise<Response> {
    const before = this.#bytesReceived;
    try {
      const frame = await this.#withDeadline(readResponseFrame(this.#reader));
      return decodeResponse(frame.header.code, frame.payload);
    } catch (error) {
      throw this.failure(
        `read the response of ${this.address}`,
        error,
        this.#bytesReceived > before,
      );
    }
  }

  /**
   * Reads one response that may be a transfer answer (1652, 1653,
   * docs/protocol.md §13.4): that one comes back as its code and raw
   * payload, any other decoded as {@linkcode ServerConnection.receive} does.
   *
   * @throws as {@linkcode ServerConnection.receive}.
   */
  async receiveTransfer(): Promise<{ code: number; payload: Uint8Array } | Response> {
    const frame = await this.receiveFrame(maxTransferResponseSize);
    const code = frame.header.code;
    if (maxTransferResponseSize(code) !== undefined) {
      return { code, payload: frame.payload.slice() };
    }
    try {
      return decodeResponse(code, frame.payload);
    } catch (error) {
      throw this.failure(`read the response of ${this.address}`, error, true);
    }
  }

  /**
   * Reads one frame, header and payload, within one deadline, not decoded:
   * for an extension's answers, whose payload limits `limitOf` gives (a code
   * it does not know falls back to the reference codes' limits).
   *
   * @throws {NetworkError} if the connection drops or the response is late.
   * @throws {RejectedError} for an unknown code or an oversized payload.
   */
  async receiveFrame(limitOf: (code: number) => number | undefined): Promise<ResponseFrame> {
    const before = this.#bytesReceived;
    try {
      return await this.#withDeadline(
        readResponseFrame(this.#reader, (code) => limitOf(code) ?? maxResponsePayloadSize(code)),
      );
    } catch (error) {
      throw this.failure(
        `read the response of ${this.address}`,
        error,
        this.#bytesReceived > before,
      );
    }
  }

  /**
   * After a write failed (the server closed the connection in the middle of
   * an upload): the response it sent before closing, if one arrived within
   * `ms` (a 1607 saying why it stopped reading), else `undefined`. Never
   * throws.
   */
  async responseAfterFailure(ms = 2_000): Promise<Response | undefined> {
    if (this.#closed) return undefined;
    try {
      const frame = await withDeadline(readResponseFrame(this.#reader), ms, {
        onExpire: () => this.close(),
      });
      return decodeResponse(frame.header.code, frame.payload);
    } catch {
      return undefined;
    }
  }

  /**
   * Whether the peer's first bytes read as a line of text rather than a
   * version 3 response header (an HTTP, SSH or mail server, say).
   */
  #peerSpeaksText(): boolean {
    const header = this.#firstBytes.subarray(
      0,
      Math.min(this.#bytesReceived, RESPONSE_HEADER_SIZE),
    );
    return header.length === RESPONSE_HEADER_SIZE && header[0] !== PROTOCOL_VERSION &&
      looksLikeText(header);
  }

  /** A RejectedError quoting the first line the peer sent. */
  #notOurProtocol(cause: unknown): RejectedError {
    const kept = this.#firstBytes.subarray(0, Math.min(this.#bytesReceived, FIRST_BYTES_KEPT));
    const firstLine = new TextDecoder().decode(kept).split(/\r?\n/)[0]!;
    return new RejectedError({
      action: `talk to the server at ${this.address}`,
      reason: `this is not a file transfer server (it answered ${JSON.stringify(firstLine)})`,
      hint: `Check the port on ${this.#source}`,
    }, { cause });
  }

  /**
   * The ClientError for a failed exchange: a lost connection or a missed
   * deadline is a network failure, a malformed response a protocol
   * violation; anything else is returned unchanged (a bug).
   *
   * @param partial Whether part of the response had arrived (for a deadline).
   */
  failure(action: string, error: unknown, partial = false): unknown {
    if (error instanceof ClientError) return error;
    if (error instanceof ProtocolError) {
      if (this.#peerSpeaksText()) return this.#notOurProtocol(error);
      return protocolViolation(
        this.address,
        `its response does not follow the protocol (${error.message})`,
        error,
      );
    }
    if (error instanceof Deno.errors.TimedOut && this.#timedOut) {
      return this.#timeoutError(action, error, partial);
    }
    return networkError(action, error);
  }

  #timeoutError(action: string, error: unknown, partial: boolean): NetworkError {
    const seconds = this.#timeoutMs / 1000;
    const silent = this.#bytesReceived === 0;
    return new NetworkError({
      action,
      reason: partial
        ? `the server did not complete its response within ${seconds} s`
        : `the server made no progress for ${seconds} s` +
          (silent ? " and has sent nothing since the connection opened" : ""),
      hint: silent
        ? `Check that ${this.#source} names a file transfer server, or raise --timeout`
        : "Check that the server is running and reachable, then try again",
    }, { cause: error, retryable: !silent });
  }

  /** Closes the connection; safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer.
    }
  }
}

/** A NetworkError for a lost connection; anything else is returned unchanged. */
export function networkError(action: string, error: unknown): unknown {
  if (error instanceof ClientError || !isNetworkFailure(error)) return error;
  const reason = error instanceof Deno.errors.UnexpectedEof
    ? "the server closed the connection"
    : errorMessage(error);
  return new NetworkError({
    action,
    reason,
    hint: "Check that the server is running and reachable, then try again",
  }, { cause: error });
}

/** A RejectedError (exit code 4) for a peer at `address` that broke the protocol. */
export function protocolViolation(address: string, reason: string, cause?: unknown): RejectedError {
  return new RejectedError({
    action: `talk to the server at ${address}`,
    reason,
    hint: "Check that the address is a file transfer server speaking protocol version 3",
  }, cause === undefined ? undefined : { cause });
}
