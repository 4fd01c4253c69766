/**
 * The client's side of the secure mode's transfer requests (docs/protocol.md
 * §13.4): asking what the server holds of a path (852), deciding what to send
 * (nothing, the rest after what was kept, or the whole file), and asking to
 * send from that offset (853).
 *
 * | the server holds                                  | the client                                     |
 * |---------------------------------------------------|------------------------------------------------|
 * | this path, same size and SHA-256                  | sends nothing: "already stored" (unless `--force`) |
 * | this path (any content), and `--no-clobber`       | sends nothing: "exists"                        |
 * | bytes kept of a cut upload of this size, whose SHA-256 is that of the file's start | sends the rest |
 * | bytes kept that are not the file's start (it changed) | sends the whole file                       |
 * | nothing                                           | sends the whole file                           |
 *
 * A server that does not know 852 answers 1607 ("unknown request code"): the
 * client then sends as the reference protocol does, and no folder paths.
 *
 * @module
 */

import type { Cksum, ClientId } from "../protocol/mod.ts";
import { ResponseCode } from "../protocol/mod.ts";
import {
  decodeFileStatusResponse,
  decodeSendAtResponse,
  encodeFileStatusRequest,
  encodeSendAtRequest,
  FILE_STATUS_RESPONSE_CODE,
  type FileStatus,
  SEND_AT_RESPONSE_CODE,
} from "../protocol/transfers.ts";
import { protocolViolation, type ServerConnection } from "./connection.ts";
import { hashFile } from "./file_hashes.ts";
import { formatBytes } from "../common/units.ts";
import type { UploadFile } from "./upload_file.ts";

/** What the user asked for with `--force` and `--no-clobber`. */
export interface TransferChoices {
  /** `--force`: send even a file the server already holds. */
  force?: boolean;
  /** `--no-clobber`: never replace a stored file. */
  noClobber?: boolean;
}

/** What to do with one file. */
export type TransferPlan =
  | { skip: string }
  | {
    skip?: undefined;
    /** Where the packets start: 0, or the bytes the server kept. */
    offset: number;
    /** SHA-256 and cksum of the file's first `offset` bytes, when `offset` > 0. */
    prefix?: { sha256: Uint8Array; cksum: Cksum };
    /** Whether a stored file of that path will be replaced. */
    replaces: boolean;
    /** A line for the user: resuming, or why not. */
    note?: string;
  };

/**
 * Asks what the server holds of `file`'s path (852).
 *
 * @returns The status, or `undefined` when the server does not know 852.
 * @throws {ClientError} for a 1607 about this path, or a protocol violation.
 */
export async function askFileStatus(
  connection: ServerConnection,
  clientId: ClientId,
  file: UploadFile,
): Promise<FileStatus | { refused: string } | undefined> {
  await connection.send(
    encodeFileStatusRequest(clientId, { size: file.size, path: file.storedPath }),
  );
  const answer = await connection.receiveTransfer();
  if (answer.code === FILE_STATUS_RESPONSE_CODE && "payload" in answer) {
    return decodeOrViolation(connection, () => decodeFileStatusResponse(answer.payload));
  }
  if (answer.code === ResponseCode.GeneralError && "text" in answer) {
    if (/unknown request code/.test(answer.text)) return undefined;
    return { refused: answer.text };
  }
  throw protocolViolation(
    connection.address,
    `it answered ${answer.code} to a file status request, expected ${FILE_STATUS_RESPONSE_CODE}`,
  );
}

/**
 * Asks to send `file` from `offset` (853).
 *
 * @returns `undefined` when the server said go ahead (1653), or its 1607 text.
 */
export async function askToSendAt(
  connection: ServerConnection,
  clientId: ClientId,
  file: UploadFile,
  offset: number,
  prefixSha256: Uint8Array,
): Promise<string | undefined> {
  await connection.send(
    encodeSendAtRequest(clientId, { size: file.size, offset, prefixSha256, path: file.storedPath }),
  );
  const answer = await connection.receiveTransfer();
  if (answer.code === SEND_AT_RESPONSE_CODE && "payload" in answer) {
    const agreed = decodeOrViolation(connection, () => decodeSendAtResponse(answer.payload));
    if (agreed !== offset) {
      throw protocolViolation(
        connection.address,
        `it agreed to offset ${agreed} when we asked for ${offset}`,
      );
    }
    return undefined;
  }
  if (answer.code === ResponseCode.GeneralError && "text" in answer) return answer.text;
  throw protocolViolation(
    connection.address,
    `it answered ${answer.code} to a send request, expected ${SEND_AT_RESPONSE_CODE}`,
  );
}

function decodeOrViolation<T>(connection: ServerConnection, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    throw protocolViolation(
      connection.address,
      `its answer does not follow the protocol (${(error as Error).message})`,
      error,
    );
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/**
 * Decides what to send of `file` given the server's `status` (see the module
 * documentation), hashing only what the decision needs, in one pass.
 *
 * @throws {ConfigError} if the file cannot be read.
 */
export async function planTransfer(
  file: UploadFile,
  status: FileStatus,
  choices: TransferChoices,
): Promise<TransferPlan> {
  const stored = status.stored;
  if (stored !== undefined && choices.noClobber) {
    return { skip: "a file of that name is stored on the server (--no-clobber)" };
  }
  const compare = stored !== undefined && stored.size === file.size &&
    stored.sha256 !== undefined && !choices.force;
  const kept = status.resumable.length;
  const prefix = kept > 0 && kept <= file.size ? kept : 0;
  if (!compare && prefix === 0) return { offset: 0, replaces: stored !== undefined };
  const hashes = await hashFile(file.path, { size: file.size, prefix, whole: compare });
  if (compare && hashes.whole !== undefined && sameBytes(hashes.whole, stored.sha256!)) {
    return { skip: "already stored (same size and SHA-256)" };
  }
  const replaces = stored !== undefined;
  if (prefix === 0) return { offset: 0, replaces };
  if (hashes.prefix !== undefined && sameBytes(hashes.prefix.sha256, status.resumable.sha256)) {
    return {
      offset: prefix,
      prefix: hashes.prefix,
      replaces,
      note: `resuming ${file.storedPath} after the ${formatBytes(prefix)} the server kept`,
    };
  }
  return {
    offset: 0,
    replaces,
    note: `the server kept ${formatBytes(prefix)} of an earlier send of ${file.storedPath}, ` +
      "but the file changed since: sending it whole",
  };
}
