/**
 * 860, list (secure port, after the key proof): one page of the signed-in
 * client's own files, answered 1660 (`server/retrieval/list_files.ts`).
 * Refusals: `retrieval_checks.ts`; a payload that does not decode gets 1607
 * and the connection goes on.
 *
 * @module
 */

import {
  decodeListRequest,
  encodeListPage,
  MAX_LIST_PAYLOAD,
  RetrievalRequest,
} from "../../../protocol/mod.ts";
import { listPage } from "../../retrieval/list_files.ts";
import { boundedPayload, defineRequest, type RequestEntry } from "../request_table.ts";
import { retrievingClient } from "./retrieval_checks.ts";

/** The table row of 860. */
export const listFilesRequest: RequestEntry = defineRequest({
  code: RetrievalRequest.List,
  name: "list files",
  payloadSize: boundedPayload(MAX_LIST_PAYLOAD, "list request"),
  decode: decodeListRequest,
  handle: async (scope, request, header) => {
    const clientId = await retrievingClient(scope, RetrievalRequest.List, header.clientId);
    if (clientId === undefined) return;
    const page = await listPage(scope.context.commit.registry, clientId, request);
    await scope.sendBytes(encodeListPage(page));
  },
});
