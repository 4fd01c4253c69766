/**
 * The reference dialect (`docs/protocol.md`): its request table and its
 * answers' encoding, per port.
 *
 * | code | request      | handler                    | served on                                 |
 * |------|--------------|----------------------------|-------------------------------------------|
 * | 825  | register     | `requests/register.ts`     | both ports                                |
 * | 826  | public key   | `requests/public_key.ts`   | both ports                                |
 * | 827  | reconnect    | `requests/reconnect.ts`    | both ports                                |
 * | 828  | send file    | `requests/send_file.ts`    | both ports                                |
 * | 900  | CRC ok       | `requests/crc_ok.ts`       | both ports                                |
 * | 901  | CRC retry    | `requests/crc_retry.ts`    | both ports                                |
 * | 902  | CRC abort    | `requests/crc_abort.ts`    | both ports                                |
 * | 850  | discovery    | `requests/discovery.ts`    | the plain port, when the secure mode is on |
 * | 851  | key proof    | `requests/key_proof.ts`    | the secure port                           |
 * | 860  | list files   | `requests/list_files.ts`   | the secure port, after the key proof      |
 * | 861  | get file     | `requests/get_file.ts`     | the secure port, after the key proof      |
 * | 852  | file status  | `requests/file_status.ts`  | the secure port (docs/protocol.md §13.4)  |
 * | 853  | send at      | `requests/send_at.ts`      | the secure port (docs/protocol.md §13.4)  |
 *
 * Any other code is unknown on that port (`request_table.ts`). Requests of
 * the secure port only (after the key proof) join `SECURE_REQUESTS`.
 *
 * @example
 * ```ts
 * import { referenceDialect } from "./reference_dialect.ts";
 *
 * const plain = referenceDialect({});
 * console.assert(plain.requests.has(825) && !plain.requests.has(851));
 * ```
 *
 * @module
 */

import { encodeResponse } from "../../protocol/mod.ts";
import { type Dialect, type RequestEntry, requestTable } from "./request_table.ts";
import { crcAbortRequest } from "./requests/crc_abort.ts";
import { crcOkRequest } from "./requests/crc_ok.ts";
import { crcRetryRequest } from "./requests/crc_retry.ts";
import { discoveryRequest } from "./requests/discovery.ts";
import { getFileRequest } from "./requests/get_file.ts";
import { keyProofRequest } from "./requests/key_proof.ts";
import { listFilesRequest } from "./requests/list_files.ts";
import { publicKeyRequest } from "./requests/public_key.ts";
import { reconnectRequest } from "./requests/reconnect.ts";
import { registerRequest } from "./requests/register.ts";
import { sendFileRequest } from "./requests/send_file.ts";
import { fileStatusRequest } from "./requests/file_status.ts";
import { sendAtRequest } from "./requests/send_at.ts";

/** The requests of the reference protocol, served on both ports. */
export const REFERENCE_REQUESTS: readonly RequestEntry[] = [
  registerRequest,
  publicKeyRequest,
  reconnectRequest,
  sendFileRequest,
  crcOkRequest,
  crcRetryRequest,
  crcAbortRequest,
];

/** The requests served on the secure port only. */
export const SECURE_REQUESTS: readonly RequestEntry[] = [
  keyProofRequest,
  listFilesRequest,
  getFileRequest,
  fileStatusRequest,
  sendAtRequest,
];

/** Which port a dialect serves. */
export interface ReferencePort {
  /** On the plain port when the secure mode is on: the whole 1650 frame that answers 850. */
  discoveryAnswer?: Uint8Array;
  /** Whether it is the secure port (TLS, key proof). */
  secure?: boolean;
}

/** The reference dialect of a port. */
export function referenceDialect(port: ReferencePort): Dialect {
  const extra = port.secure === true
    ? SECURE_REQUESTS
    : port.discoveryAnswer === undefined
    ? []
    : [discoveryRequest(port.discoveryAnswer)];
  return {
    name: "reference",
    requests: requestTable([...REFERENCE_REQUESTS, ...extra]),
    encodeResponse,
  };
}
