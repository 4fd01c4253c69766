/**
 * One TCP connection to the server: connecting, writing whole frames, and
 * reading responses with every size checked against the code before a byte of
 * payload is read. Socket errors become {@linkcode ClientError}s with exit
 * code 3 (network); protocol violations exit code 4. Every read and write
 * has a deadline, so a server that goes silent or stops reading is a network
 * failure, never a hang.
 *
 * @module
 */

import {
  decodeResponse,
  decodeResponseHeader,
  ExactReader,
  maxResponsePayloadSize,
  ProtocolError,
  type Response,
  RESPONSE_HEADER_SIZE,
} from "../protocol/mod.ts";
import { ClientError, ExitCode } from "./client_error.ts";

/** Default for how long one read or write may wait: 60 s. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** Anything a whole buffer can be written to (a `Deno.Conn`, a test double). */
export interface Writer {
  /** Writes part of `p`; resolves to the count written. */
  write(p: Uint8Array): Promise<number>;
}

/** Writes all of `bytes` to `writer`. */
export async function writeAll(writer: Writer, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await writer.write(bytes.subarray(written));
}

/** Whether `error` is a socket failure (as opposed to a bug or a protocol violation). */
export function isNetworkError(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionRefused ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.TimedOut ||
    error instanceof Deno.errors.AddrNotAvailable ||
    error instanceof Deno.errors.NetworkUnreachable ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted ||
    (error instanceof Error && /dns|lookup|resolve/i.test(error.message) &&
      !(error instanceof Deno.errors.PermissionDenied));
}

/** A connection to the server at `host:port`. */
export class ServerConnection {
  /** `host:port` as given, for messages. */
  readonly address: string;
  #conn: Deno.Conn;
  #reader: ExactReader;
  #writer: Writer;
  #timeoutMs: number;
  #timedOut = false;
  #closed = false;

  private constructor(conn: Deno.Conn, address: string, timeoutMs: number) {
    this.#conn = conn;
    this.#timeoutMs = timeoutMs;
    this.#reader = new ExactReader({ read: (p) => this.#timed(() => conn.read(p)) }, 4096);
    this.#writer = { write: (p) => this.#timed(() => conn.write(p)) };
    this.address = address;
  }

  /**
   * Connects once (no retries: the session retries whole conversations).
   *
   * @param timeoutMs How long one read or write may wait; 0 for no limit.
   * @throws {ClientError} (exit code 3) if the server cannot be reached.
   */
  static async open(
    host: string,
    port: number,
    timeoutMs: number = DEFAULT_TIMEOUT_MS,
  ): Promise<ServerConnection> {
    const address = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
    try {
      const conn = await Deno.connect({ hostname: host, port, transport: "tcp" });
      conn.setNoDelay(true);
      return new ServerConnection(conn, address, timeoutMs);
    } catch (error) {
      throw networkError(`connect to ${address}`, error);
    }
  }

  /** The writer for the streamed upload; each write has the deadline too. */
  get writer(): Writer {
    return this.#writer;
  }

  /**
   * Runs one read or write; if it has not settled within the timeout, closes
   * the connection and fails with `Deno.errors.TimedOut`.
   */
  async #timed<T>(operation: () => Promise<T>): Promise<T> {
    if (this.#timeoutMs === 0) return await operation();
    const timer = setTimeout(() => {
      this.#timedOut = true;
      this.close();
    }, this.#timeoutMs);
    try {
      const result = await operation();
      if (this.#timedOut) throw this.#timeoutError();
      return result;
    } catch (error) {
      if (this.#timedOut) throw this.#timeoutError();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  #timeoutError(): Deno.errors.TimedOut {
    return new Deno.errors.TimedOut(
      `the server made no progress for ${this.#timeoutMs / 1000} s`,
    );
  }

  /**
   * Writes a whole frame.
   *
   * @throws {ClientError} (exit code 3) if the connection fails.
   */
  async send(bytes: Uint8Array, action = "send a request"): Promise<void> {
    try {
      await writeAll(this.#writer, bytes);
    } catch (error) {
      throw networkError(`${action} to ${this.address}`, error);
    }
  }

  /**
   * Reads one response: the 7-byte header, then a payload no larger than its
   * code allows.
   *
   * @throws {ClientError} exit code 3 if the connection drops, 4 for an
   * unknown code, an oversized or malformed payload.
   */
  async receive(): Promise<Response> {
    try {
      const header = decodeResponseHeader(
        await this.#reader.readExact(RESPONSE_HEADER_SIZE, RESPONSE_HEADER_SIZE),
      );
      const limit = maxResponsePayloadSize(header.code);
      if (limit === undefined) {
        throw new ProtocolError(`Cannot read response: unknown response code ${header.code}`);
      }
      if (header.payloadSize > limit) {
        throw new ProtocolError(
          `Cannot read response ${header.code}: payload of ${header.payloadSize} bytes, more than ${limit}`,
        );
      }
      const payload = await this.#reader.readExact(header.payloadSize, limit);
      return decodeResponse(header.code, payload);
    } catch (error) {
      if (error instanceof ProtocolError) throw protocolError(this.address, error.message, error);
      throw networkError(`read the response of ${this.address}`, error);
    }
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

/** A ClientError (exit code 3) for a failed socket operation. */
export function networkError(action: string, error: unknown): ClientError | unknown {
  if (error instanceof ClientError) return error;
  if (!isNetworkError(error)) return error;
  const reason = error instanceof Deno.errors.UnexpectedEof
    ? "the server closed the connection"
    : (error as Error).message;
  return new ClientError(
    ExitCode.Network,
    `Cannot ${action}: ${reason}. Check that the server is running and reachable, then try again`,
    { cause: error },
  );
}

/** A ClientError (exit code 4) for a server that broke the protocol. */
export function protocolError(address: string, reason: string, cause?: unknown): ClientError {
  return new ClientError(
    ExitCode.Rejected,
    `Cannot talk to the server at ${address}: ${reason.replace(/^Cannot [^:]*: /, "")}. ` +
      "Check that the address is a file transfer server speaking protocol version 3",
    cause === undefined ? undefined : { cause },
  );
}
