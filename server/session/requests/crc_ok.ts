/**
 * 900, CRC ok: the client confirms the upload awaiting its verdict; a kept
 * upload is committed (`server/upload/commit.ts`: it takes its final name and
 * is recorded), then answered with 1604.
 *
 * | upload awaiting the verdict        | answer                      |
 * |------------------------------------|-----------------------------|
 * | kept, within the client's limits   | 1604, the file is stored    |
 * | not kept (cksum mismatch)          | 1607                        |
 * | over the client's limits, or the store fails | 1607, nothing stored changes |
 * | none (`verdict.ts`)                | 1607                        |
 *
 * @module
 */

import { RequestCode, ResponseCode } from "../../../protocol/mod.ts";
import { commitUpload, limitText } from "../../upload/commit.ts";
import { defineRequest, type RequestEntry } from "../request_table.ts";
import type { RequestScope } from "../scope.ts";
import { storageFailed } from "./checks.ts";
import { dropPartial } from "../../upload/partials.ts";
import { partialContext } from "./transfer_checks.ts";
import { referenceCodec } from "./reference_codec.ts";
import { takeVerdictDue, type VerdictDue } from "./verdict.ts";

/** The table row of 900. */
export const crcOkRequest: RequestEntry = defineRequest({
  ...referenceCodec(RequestCode.CrcOk),
  name: "CRC ok",
  handle: async (scope, _request, header) => {
    const due = await takeVerdictDue(scope, RequestCode.CrcOk, header.clientId);
    if (due === undefined) return;
    try {
      await confirm(scope, due);
    } finally {
      await scope.forgetUpload(); // releases its reservation: the file counts as stored now
    }
  },
});

/** Commits a kept upload, then answers 1604. */
async function confirm(scope: RequestScope, { client, upload }: VerdictDue): Promise<void> {
  const { staged, fileName } = upload;
  if (staged === undefined) {
    await scope.reject(RequestCode.CrcOk, "the file was not kept: its cksum did not match");
    return;
  }
  const { commit, store } = scope.context;
  let refusal;
  try {
    refusal = await commitUpload({
      clientId: client.clientId,
      fileName,
      staged,
      size: upload.originalSize,
      cksum: upload.cksum,
      sha256: upload.sha256,
    }, commit);
  } catch (error) {
    await storageFailed(scope, error, RequestCode.CrcOk);
    return;
  }
  if (refusal !== undefined) {
    await scope.reject(RequestCode.CrcOk, limitText(fileName, refusal, commit.limits));
    return;
  }
  // What a cut upload of this name kept (an earlier attempt) is obsolete now.
  await dropPartial(partialContext(scope), client.clientId, fileName).catch(() => {});
  scope.logger.info("{fileName} confirmed by the client and stored in {path}", {
    fileName,
    path: store.describe(staged.location),
  });
  await scope.send({ code: ResponseCode.Ack, clientId: client.clientId });
}
