/**
 * 853, send at (secure port, after the key proof; docs/protocol.md §13.4): an
 * upload under a path (folders and a name), from the start or continuing the
 * bytes kept of a cut one. Answered 1653, after which the packets of §5 carry
 * the file from the agreed offset; then 1603 with the cksum of the whole file,
 * and the verdict and commit of an 828.
 *
 * | state on arrival                                   | answer                                   | state after          |
 * |----------------------------------------------------|------------------------------------------|----------------------|
 * | signed in and proven, offset 0                     | 1653, the packets, 1603                  | awaiting the verdict |
 * | signed in and proven, offset and digest agree with what was kept | 1653, the rest, 1603       | awaiting the verdict |
 * | they do not agree, the path breaks the rules, over the size limit or the client's limits | 1607; goes on (what was kept of the path is dropped) | signed in |
 * | not signed in, another client's id, no key proof   | 1607, and the connection closes          | —                    |
 *
 * A cut upload keeps what arrived (`upload/partials.ts`). A new 853 drops the
 * upload in hand; it is served while a resend is due (it may be the resend).
 *
 * @module
 */

import { ProtocolError } from "../../../protocol/mod.ts";
import {
  decodeSendAtRequest,
  encodeSendAtResponse,
  MAX_SEND_AT_REQUEST_SIZE,
  SEND_AT_REQUEST_CODE,
  type SendAtRequest,
} from "../../../protocol/transfers.ts";
import { type Resumed, ResumeRefusedError, takeForResume } from "../../upload/partials.ts";
import { receiveUpload, UploadRefusedError, type UploadResult } from "../../upload/upload.ts";
import { uploadFilePath } from "../../upload/upload_name.ts";
import type { ClientState } from "../connection_state.ts";
import { defineRequest, type RequestEntry } from "../request_table.ts";
import type { RequestScope } from "../scope.ts";
import { requireProof, storageFailed } from "./checks.ts";
import { answerReceived } from "./send_file.ts";
import {
  keepCutUpload,
  partialContext,
  signedInClient,
  transferPayload,
} from "./transfer_checks.ts";

/** The table row of 853. */
export const sendAtRequest: RequestEntry = defineRequest({
  code: SEND_AT_REQUEST_CODE,
  name: "send at",
  payloadSize: transferPayload(SEND_AT_REQUEST_CODE, MAX_SEND_AT_REQUEST_SIZE),
  decode: (payload) => decodeSendAtRequest(payload),
  handle: (scope, request, header) => {
    signedInClient(scope, header.clientId, "file");
    requireProof(scope, "file");
    return sendAt(scope, request);
  },
  servedWhileResendDue: true,
});

async function sendAt(scope: RequestScope, request: SendAtRequest): Promise<void> {
  await scope.forgetUpload();
  const client = scope.client as ClientState & { kind: "signed-in" };
  const { clientId } = client.client;
  const { context } = scope;
  const agreed = await agree(scope, clientId, request);
  if (agreed === undefined) return;
  const { path, resumed } = agreed;
  await scope.sendBytes(encodeSendAtResponse(request.offset));
  scope.setActivity({ kind: "receiving", fileName: path });
  let upload: UploadResult;
  try {
    upload = await receiveUpload({
      reader: scope.reader,
      clientId,
      aesKey: null, // the secure port only: the content is inside TLS
      store: context.store,
      maxFileSize: context.maxFileSize,
      buffers: context.uploadBuffers,
      logger: scope.logger,
      path,
      ...(resumed === undefined ? {} : { resume: resumed }),
      admit: (_name, size) =>
        Promise.resolve(
          size === request.size
            ? undefined
            : `Cannot store ${path}: the packets carry ${size - request.offset} bytes, not the ` +
              `${request.size - request.offset} announced`,
        ),
      answerRefusal: (reason) => scope.reject(SEND_AT_REQUEST_CODE, reason),
      onCut: keepCutUpload(scope, clientId),
    });
  } catch (error) {
    await scope.forgetUpload(); // releases its reservation, as a refused or failed 828's
    if (error instanceof UploadRefusedError) {
      await resumed?.staged.discard("content_mismatch").catch(() => {});
      if (!error.answered) await scope.reject(SEND_AT_REQUEST_CODE, error.message);
      return;
    }
    await storageFailed(scope, error, SEND_AT_REQUEST_CODE);
    return;
  } finally {
    scope.setActivity({ kind: "handling" });
  }
  await answerReceived(scope, client, upload);
}

/**
 * Checks the path, the size and the client's limits, then agrees on the
 * offset with what was kept; on a refusal answers 1607 and returns
 * `undefined`.
 */
async function agree(
  scope: RequestScope,
  clientId: Uint8Array,
  request: SendAtRequest,
): Promise<{ path: string; resumed: Resumed | undefined } | undefined> {
  const { context } = scope;
  let path: string;
  try {
    path = uploadFilePath(request.path);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    await scope.reject(SEND_AT_REQUEST_CODE, error.message);
    return undefined;
  }
  if (request.size > context.maxFileSize) {
    await scope.reject(
      SEND_AT_REQUEST_CODE,
      `Cannot accept upload: original size ${request.size} is over the limit of ` +
        `${context.maxFileSize} bytes`,
    );
    return undefined;
  }
  // The reservation first: it stands for what was kept of the path (counted once), and a
  // refusal leaves what was kept for later.
  const over = await scope.reserveUpload(clientId, path, request.size, true);
  if (over !== undefined) {
    await scope.reject(SEND_AT_REQUEST_CODE, over);
    return undefined;
  }
  try {
    const resumed = await takeForResume(partialContext(scope), clientId, { ...request, path });
    if (resumed !== undefined) {
      scope.logger.info("{path}: resuming after the {offset} bytes kept", {
        path,
        offset: resumed.offset,
      });
    }
    return { path, resumed };
  } catch (error) {
    if (!(error instanceof ResumeRefusedError)) throw error;
    await scope.forgetUpload(); // releases the reservation
    scope.logger.info("{message}", { message: error.message });
    await scope.reject(SEND_AT_REQUEST_CODE, error.message);
    return undefined;
  }
}
