/**
 * 861, one stored file back to its owner (`protocol/retrieval.ts`): the
 * 1661 that describes it, then its content from the agreed offset in 1662
 * frames, read from the store into one buffer per download, so a file of
 * any size costs {@linkcode MAX_CHUNK_SIZE} bytes of memory.
 *
 * | the request                                      | the answer                                       |
 * |--------------------------------------------------|--------------------------------------------------|
 * | a path the client holds no file under (another client's, a bad name, a guess) | 1663, the same for all of them |
 * | a path it holds, `if sha256` that file's, offset within it | 1661 with `start` = offset, then the rest |
 * | a path it holds, anything else                   | 1661 with `start` = 0, then the whole file        |
 * | a row whose file the store lacks, or whose size differs (altered on disk, replaced meanwhile) | a refusal: 1607 |
 * | the store fails or the file ends early mid-way   | a refusal: 1607 in place of the next 1662         |
 *
 * The path is looked up only among the signed-in client's rows, by the
 * same rules as an upload's name (`stored_path.ts`, after NFC): nothing a
 * client sends reaches another client's folder or key. The location read is
 * the row's, never built from the request.
 *
 * @module
 */

import type { Logger } from "@logtape/logtape";
import { formatBytes } from "../../common/units.ts";
import {
  bytesEqual,
  type ClientId,
  encodeBytesHeader,
  encodeFileHeader,
  encodeNoSuchFile,
  type GetRequest,
  MAX_CHUNK_SIZE,
  NO_SHA256,
  RESPONSE_HEADER_SIZE,
} from "../../protocol/mod.ts";
import type { FileStore, StoredFileReader } from "../storage/file_store.ts";
import type { FileRecord, Registry } from "../storage/registry.ts";
import { storedPathProblem } from "../storage/stored_path.ts";
import { listedFile } from "./list_files.ts";

/** What sending a stored file needs. */
export interface StreamOptions {
  /** The registry: the signed-in client's rows. */
  registry: Registry;
  /** The store the content is read from. */
  store: FileStore;
  /** The signed-in client. */
  clientId: ClientId;
  /** Writes answer bytes to the connection (with its write deadline). */
  write(bytes: Uint8Array): Promise<void>;
  /** The connection's log. */
  logger: Logger;
}

/** How an 861 ended: sent whole, answered 1663, or refused (the caller answers 1607 with the text). */
export type StreamOutcome =
  | { kind: "sent"; path: string; start: number; size: number }
  | { kind: "no-such-file" }
  | { kind: "refused"; text: string };

/**
 * The row `request.path` names among `clientId`'s files, or `undefined`
 * (any path that breaks a name rule names none).
 */
async function ownFile(
  registry: Registry,
  clientId: ClientId,
  path: string,
): Promise<FileRecord | undefined> {
  const normalised = path.normalize("NFC");
  if (storedPathProblem(normalised) !== undefined) return undefined;
  return await registry.file(clientId, normalised);
}

/** Where the content starts: the client's offset when its part is of this very file. */
export function startOffset(row: FileRecord, request: GetRequest): number {
  if (request.offset === 0 || request.offset > row.size) return 0;
  const held = row.sha256 === null ? NO_SHA256 : listedFile(row).sha256!;
  return bytesEqual(held, request.ifSha256) ? request.offset : 0;
}

/**
 * Answers one 861 (see the module documentation).
 *
 * @throws whatever writing to the connection throws (the connection is gone).
 */
export async function streamStoredFile(
  options: StreamOptions,
  request: GetRequest,
): Promise<StreamOutcome> {
  const row = await ownFile(options.registry, options.clientId, request.path);
  if (row === undefined) {
    await options.write(encodeNoSuchFile(request.path));
    return { kind: "no-such-file" };
  }
  const start = startOffset(row, request);
  const reader = await options.store.openRead(row.location, start);
  if (reader === undefined || reader.size !== row.size) {
    await reader?.close();
    options.logger.error(
      "Cannot send {path}: the store holds {found}, the registry {recorded}",
      {
        path: row.fileName,
        found: reader === undefined ? "no file" : formatBytes(reader.size),
        recorded: formatBytes(row.size),
      },
    );
    return {
      kind: "refused",
      text: `Cannot get ${row.fileName}: the server cannot read it as it was stored`,
    };
  }
  try {
    const started = performance.now();
    await options.write(encodeFileHeader({ ...listedFile(row), start }));
    const problem = await sendContent(reader, row.size - start, options.write);
    if (problem !== undefined) {
      options.logger.error("Cannot send {path}: {problem}", { path: row.fileName, problem });
      return { kind: "refused", text: `Cannot get ${row.fileName}: ${problem}` };
    }
    options.logger.info("Sent {path}: {size} from byte {start} in {seconds} s", {
      path: row.fileName,
      size: formatBytes(row.size - start),
      start,
      seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
    });
    return { kind: "sent", path: row.fileName, start, size: row.size };
  } finally {
    await reader.close();
  }
}

/**
 * Sends exactly `length` bytes of `reader` in 1662 frames, each as full as
 * the buffer allows. Returns why it stopped early, or `undefined`.
 */
async function sendContent(
  reader: StoredFileReader,
  length: number,
  write: (bytes: Uint8Array) => Promise<void>,
): Promise<string | undefined> {
  const frame = new Uint8Array(RESPONSE_HEADER_SIZE + Math.min(MAX_CHUNK_SIZE, length));
  let left = length;
  while (left > 0) {
    const want = Math.min(MAX_CHUNK_SIZE, left);
    const body = frame.subarray(RESPONSE_HEADER_SIZE, RESPONSE_HEADER_SIZE + want);
    let filled = 0;
    try {
      while (filled < want) {
        const n = await reader.read(body.subarray(filled));
        if (n === null) return `the stored file ended ${formatBytes(left - filled)} early`;
        filled += n;
      }
    } catch (error) {
      return `the store failed: ${error instanceof Error ? error.message : String(error)}`;
    }
    frame.set(encodeBytesHeader(want), 0);
    await write(frame.subarray(0, RESPONSE_HEADER_SIZE + want));
    left -= want;
  }
  return undefined;
}
