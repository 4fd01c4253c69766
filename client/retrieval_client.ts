/**
 * The client's side of retrieval (`docs/protocol.md` §13.4), on a secure,
 * signed-in connection: the listing, page by page, and one file's content as
 * it arrives.
 *
 * ```text
 * list:  860 (cursor "") -> 1660 page; while more: 860 (last path) -> 1660
 * get:   861 (path, offset, SHA-256 of the part held) -> 1661 (size, start, sums)
 *        then 1662 frames until size - start bytes came; 1663: no such file
 * ```
 *
 * A 1607 at any point is the server's refusal ({@linkcode ServerError}); any
 * other code, or more content than announced, is a protocol violation.
 *
 * @module
 */

import {
  type ClientId,
  decodeFileHeader,
  decodeListPage,
  decodeNoSuchFile,
  decodeResponse,
  encodeGetRequest,
  encodeListRequest,
  type FileHeader,
  type ListedFile,
  maxRetrievalPayloadSize,
  ProtocolError,
  ResponseCode,
  type ResponseFrame,
  RetrievalResponse,
} from "../protocol/mod.ts";
import { RejectedError } from "./client_error.ts";
import { protocolViolation, type ServerConnection } from "./connection.ts";
import { ServerError } from "./session.ts";

/** Compares two texts in the byte order of their UTF-8, as the server orders paths. */
export function compareUtf8(a: string, b: string): number {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i]! - y[i]!;
  }
  return x.length - y.length;
}

/** Where a file's content goes as it arrives. */
export interface ContentSink {
  /** The server's description arrived: the content that follows starts at `header.start`. */
  begin(header: FileHeader): Promise<void>;
  /** The next bytes of the content. */
  write(bytes: Uint8Array): Promise<void>;
}

/** The server holds no file of that name for this client (1663): exit code 4. */
export class NoSuchFileError extends RejectedError {
  /** The name asked for. */
  readonly path: string;

  /**
   * Creates the error.
   *
   * @param path The name asked for.
   */
  constructor(path: string) {
    super({
      action: `get ${path}`,
      reason: "the server holds no file of that name for you",
      hint: "See the names it holds with client --list",
    });
    this.name = "NoSuchFileError";
    this.path = path;
  }
}

/** Retrieval requests over one signed-in secure connection. */
export class RetrievalClient {
  readonly #connection: ServerConnection;
  readonly #clientId: ClientId;

  /**
   * @param connection The secure connection, signed in and the key proven.
   * @param clientId The signed-in client's id.
   */
  constructor(connection: ServerConnection, clientId: ClientId) {
    this.#connection = connection;
    this.#clientId = clientId;
  }

  /**
   * Every file the server holds for this client, in the byte order of their
   * paths, asked for page by page (`pageSize` 0: the server's choice).
   *
   * @throws {ClientError} for a refusal, a lost connection or a protocol violation.
   */
  async *list(pageSize = 0): AsyncGenerator<ListedFile> {
    let cursor = "";
    // A server that says "more" forever with the same page would loop: each
    // page must move the cursor forward.
    for (let page = 0;; page++) {
      await this.#connection.send(
        encodeListRequest(this.#clientId, { cursor, limit: pageSize }),
        "ask for the list of files",
      );
      const frame = await this.#expect("list the files", RetrievalResponse.Page);
      const { files, more } = this.#decode(() => decodeListPage(frame.payload));
      yield* files;
      if (!more) return;
      const last = files.at(-1)?.path;
      if (last === undefined || (cursor !== "" && compareUtf8(last, cursor) <= 0)) {
        throw protocolViolation(
          this.#connection.address,
          "its list pages do not move forward",
        );
      }
      cursor = last;
    }
  }

  /**
   * Fetches `path` from `offset` (the part held locally, of the file whose
   * SHA-256 is `ifSha256`), handing the description and then the content to
   * `sink`.
   *
   * @returns The server's description of the file.
   * @throws {NoSuchFileError} when the server holds no such file for us.
   * @throws {ClientError} for a refusal (also mid-way), a lost connection or a
   * protocol violation.
   */
  async get(
    path: string,
    offset: number,
    ifSha256: Uint8Array,
    sink: ContentSink,
  ): Promise<FileHeader> {
    await this.#connection.send(
      encodeGetRequest(this.#clientId, { path, offset, ifSha256 }),
      `ask for ${path}`,
    );
    const action = `get ${path}`;
    const answer = await this.#expect(action, RetrievalResponse.File, RetrievalResponse.NoSuchFile);
    if (answer.header.code === RetrievalResponse.NoSuchFile) {
      this.#decode(() => decodeNoSuchFile(answer.payload));
      throw new NoSuchFileError(path);
    }
    const header = this.#decode(() => decodeFileHeader(answer.payload));
    if (header.path !== path.normalize("NFC")) {
      throw protocolViolation(
        this.#connection.address,
        `it answered with ${JSON.stringify(header.path)} when we asked for ${JSON.stringify(path)}`,
      );
    }
    if (header.start !== 0 && header.start !== offset) {
      throw protocolViolation(
        this.#connection.address,
        `it starts ${path} at byte ${header.start}, neither 0 nor the ${offset} we hold`,
      );
    }
    await sink.begin(header);
    let left = header.size - header.start;
    while (left > 0) {
      const frame = await this.#expect(action, RetrievalResponse.Bytes);
      if (frame.payload.length > left) {
        throw protocolViolation(
          this.#connection.address,
          `it sent more of ${path} than the ${header.size} bytes it announced`,
        );
      }
      await sink.write(frame.payload);
      left -= frame.payload.length;
    }
    return header;
  }

  /** Reads the next answer: one of `codes`; a 1607 is the server's refusal. */
  async #expect(action: string, ...codes: number[]): Promise<ResponseFrame> {
    const frame = await this.#connection.receiveFrame(maxRetrievalPayloadSize);
    if (codes.includes(frame.header.code)) return frame;
    if (frame.header.code === ResponseCode.GeneralError) {
      const response = decodeResponse(frame.header.code, frame.payload);
      const text = response.code === ResponseCode.GeneralError ? response.text : "";
      throw new ServerError({
        action,
        reason: `the server refused (1607: ${
          text === "" ? "no explanation" : JSON.stringify(text)
        })`,
        hint: "Check the server's log, then try again",
      }, text);
    }
    throw protocolViolation(
      this.#connection.address,
      `it answered ${frame.header.code} when we tried to ${action}, expected ${codes.join(" or ")}`,
    );
  }

  #decode<T>(decode: () => T): T {
    try {
      return decode();
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      throw protocolViolation(
        this.#connection.address,
        `its answer does not follow the protocol (${error.message})`,
        error,
      );
    }
  }
}
