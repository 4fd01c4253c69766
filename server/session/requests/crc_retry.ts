/**
 * 901, CRC retry: the upload awaiting the verdict is discarded, and the
 * client will send it again: the next request must be 828. No answer.
 *
 * @module
 */

import { RequestCode } from "../../../protocol/mod.ts";
import { defineRequest, type RequestEntry } from "../request_table.ts";
import { referenceCodec } from "./reference_codec.ts";
import { takeVerdictDue } from "./verdict.ts";

/** The table row of 901. */
export const crcRetryRequest: RequestEntry = defineRequest({
  ...referenceCodec(RequestCode.CrcRetry),
  name: "CRC retry",
  handle: async (scope, _request, header) => {
    const due = await takeVerdictDue(scope, RequestCode.CrcRetry, header.clientId);
    if (due === undefined) return;
    await due.upload.staged?.discard("client_retry").catch(() => {});
    await scope.forgetUpload(); // releases its reservation
    scope.setClient({ kind: "signed-in", client: due.client, upload: { kind: "resend-due" } });
    scope.logger.info("The client will send {fileName} again (901)", {
      fileName: due.upload.fileName,
    });
  },
});
