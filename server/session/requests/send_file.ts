/**
 * 828, send file: the signed-in client's upload, received by
 * `server/upload/upload.ts` from the packets that follow the header. A kept
 * upload waits, staged, for the client's verdict (900, 901 or 902).
 *
 * | state on arrival                         | answer                                   | state after            |
 * |------------------------------------------|------------------------------------------|------------------------|
 * | signed in (and, on the secure port, proven) | 1603 (our cksum, or its complement when not kept) | awaiting the verdict |
 * | signed in, over its limits               | 1607 at its first packet, then the rest is read and dropped | signed in |
 * | signed in, the store fails               | 1607, after reading the upload to its end | signed in              |
 * | not signed in, another client's id, no key proof | 1607, and the connection closes  | —                      |
 *
 * A new 828 drops the upload in hand; it is served while a resend is due
 * (it is the resend).
 *
 * @module
 */

import {
  bytesEqual,
  type ClientId,
  ProtocolError,
  RequestCode,
  ResponseCode,
} from "../../../protocol/mod.ts";
import { formatBytes } from "../../../common/units.ts";
import { receiveUpload, UploadRefusedError, type UploadResult } from "../../upload/upload.ts";
import { answeredCksum } from "../../upload/verdict.ts";
import { defineRequest, type RequestEntry } from "../request_table.ts";
import type { RequestScope } from "../scope.ts";
import { referenceCodec } from "./reference_codec.ts";
import { requireProof, storageFailed } from "./checks.ts";
import { keepCutUpload } from "./transfer_checks.ts";
import type { ClientState } from "../connection_state.ts";

/** The table row of 828. */
export const sendFileRequest: RequestEntry = defineRequest({
  ...referenceCodec(RequestCode.SendFile),
  name: "send file",
  handle: (scope, _request, header) => receiveFile(scope, header.clientId),
  servedWhileResendDue: true,
});

/** Receives the upload that follows an 828 and answers 1603. */
async function receiveFile(scope: RequestScope, headerId: ClientId): Promise<void> {
  const { client } = scope;
  if (client.kind !== "signed-in") {
    throw new ProtocolError("Cannot accept file: no key exchange (826 or 827) on this connection");
  }
  const { clientId, aesKey } = client.client;
  if (!bytesEqual(headerId, clientId)) {
    throw new ProtocolError("Cannot accept file: the header's client id is not this connection's");
  }
  requireProof(scope, "file");
  await scope.forgetUpload();
  const { context } = scope;
  const secure = scope.proofGate !== undefined;
  scope.setActivity({ kind: "receiving" });
  let upload: UploadResult;
  try {
    upload = await receiveUpload({
      reader: scope.reader,
      clientId,
      // Inside TLS the content is not encrypted a second time.
      aesKey: scope.proofGate === undefined ? aesKey : null,
      store: context.store,
      maxFileSize: context.maxFileSize,
      buffers: context.uploadBuffers,
      logger: scope.logger,
      admit: (fileName, size) => {
        scope.setActivity({ kind: "receiving", fileName });
        // What a cut upload of this name kept stays until this one commits (then 900 drops it,
        // `crc_ok.ts`); meanwhile this reservation stands for it, so its bytes count once.
        return scope.reserveUpload(clientId, fileName, size, true);
      },
      answerRefusal: (reason) => scope.reject(RequestCode.SendFile, reason),
      // On the secure port a cut upload is kept for a resume (853).
      ...(secure ? { onCut: keepCutUpload(scope, clientId) } : {}),
    });
  } catch (error) {
    await scope.forgetUpload(); // releases its reservation, if it got one
    if (error instanceof UploadRefusedError) {
      if (!error.answered) await scope.reject(RequestCode.SendFile, error.message);
      return;
    }
    await storageFailed(scope, error, RequestCode.SendFile);
    return;
  } finally {
    scope.setActivity({ kind: "handling" });
  }
  await answerReceived(scope, client, upload);
}

/**
 * A whole upload is in (828, or 853 of the transfer requests): it awaits the
 * client's verdict, and 1603 says our cksum (or its complement, not kept).
 */
export async function answerReceived(
  scope: RequestScope,
  client: ClientState & { kind: "signed-in" },
  upload: UploadResult,
): Promise<void> {
  const { clientId } = client.client;
  scope.setClient({ ...client, upload: { kind: "awaiting-verdict", upload } });
  await scope.context.commit.registry.touchClient(clientId);
  logUpload(scope, upload);
  await scope.send({
    code: ResponseCode.FileReceived,
    clientId,
    contentSize: upload.contentSize,
    fileNameField: upload.fileNameField,
    cksum: answeredCksum(upload),
  });
}

function logUpload(scope: RequestScope, upload: UploadResult): void {
  const seconds = upload.durationMs / 1000;
  const speed = upload.originalSize === 0 || seconds <= 0
    ? ""
    : `, ${formatBytes(Math.round(upload.originalSize / seconds))}/s`;
  scope.logger.info(
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
