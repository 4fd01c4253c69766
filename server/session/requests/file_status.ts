/**
 * 852, file status (secure port, after the key proof; docs/protocol.md
 * §13.4): what the server holds of a path for the signed-in client, answered
 * 1652 (`upload/partials.ts`): the stored file's size and SHA-256, the
 * server's size limit, and the bytes kept of a cut upload of that size.
 *
 * | state on arrival                             | answer                 |
 * |----------------------------------------------|------------------------|
 * | signed in and proven                         | 1652                   |
 * | a path that breaks the stored-path rules     | 1607; goes on          |
 * | not signed in, another client's id, no proof | 1607, and the connection closes |
 *
 * @module
 */

import { ProtocolError } from "../../../protocol/mod.ts";
import {
  decodeFileStatusRequest,
  encodeFileStatusResponse,
  FILE_STATUS_REQUEST_CODE,
  MAX_FILE_STATUS_REQUEST_SIZE,
} from "../../../protocol/transfers.ts";
import { fileStatus } from "../../upload/partials.ts";
import { uploadFilePath } from "../../upload/upload_name.ts";
import { defineRequest, type RequestEntry } from "../request_table.ts";
import { requireProof } from "./checks.ts";
import { partialContext, signedInClient, transferPayload } from "./transfer_checks.ts";

/** The table row of 852. */
export const fileStatusRequest: RequestEntry = defineRequest({
  code: FILE_STATUS_REQUEST_CODE,
  name: "file status",
  payloadSize: transferPayload(FILE_STATUS_REQUEST_CODE, MAX_FILE_STATUS_REQUEST_SIZE),
  decode: (payload) => decodeFileStatusRequest(payload),
  handle: async (scope, request, header) => {
    const clientId = signedInClient(scope, header.clientId, "file status");
    requireProof(scope, "file status");
    let path: string;
    try {
      path = uploadFilePath(request.path);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      await scope.reject(FILE_STATUS_REQUEST_CODE, error.message);
      return;
    }
    const status = await fileStatus(partialContext(scope), clientId, path, request.size);
    await scope.sendBytes(encodeFileStatusResponse(status));
  },
});
