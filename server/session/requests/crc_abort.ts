/**
 * 902, CRC abort: the client gives up on the upload awaiting the verdict;
 * it is discarded and answered with 1604.
 *
 * @module
 */

import { RequestCode, ResponseCode } from "../../../protocol/mod.ts";
import { defineRequest, type RequestEntry } from "../request_table.ts";
import { referenceCodec } from "./reference_codec.ts";
import { takeVerdictDue } from "./verdict.ts";

/** The table row of 902. */
export const crcAbortRequest: RequestEntry = defineRequest({
  ...referenceCodec(RequestCode.CrcAbort),
  name: "CRC abort",
  handle: async (scope, _request, header) => {
    const due = await takeVerdictDue(scope, RequestCode.CrcAbort, header.clientId);
    if (due === undefined) return;
    await due.upload.staged?.discard("client_abort").catch(() => {});
    await scope.forgetUpload(); // releases its reservation
    scope.logger.warn("The client gave up on {fileName} (902)", { fileName: due.upload.fileName });
    await scope.send({ code: ResponseCode.Ack, clientId: due.client.clientId });
  },
});
