/**
 * 861, get (secure port, after the key proof): one of the signed-in client's
 * own files, streamed back as 1661 and 1662 frames, or 1663 for any name it
 * does not hold (`server/retrieval/stream_file.ts`). Refusals:
 * `retrieval_checks.ts`; a file the server cannot read as recorded gets 1607
 * (before the content, or in place of its next frame). The connection goes on
 * either way.
 *
 * Its answer may take longer than the request deadline as long as it moves:
 * each MiB written restarts that deadline (`server/net/timed_conn.ts`), so a
 * reader slower than 1 MiB per request deadline (60 s by default, about
 * 17 KiB/s) is cut off as an upload that slow is, and one that stops reading
 * at the idle deadline.
 *
 * @module
 */

import { decodeGetRequest, MAX_GET_PAYLOAD, RetrievalRequest } from "../../../protocol/mod.ts";
import { streamStoredFile } from "../../retrieval/stream_file.ts";
import { boundedPayload, defineRequest, type RequestEntry } from "../request_table.ts";
import { retrievingClient } from "./retrieval_checks.ts";

/** The table row of 861. */
export const getFileRequest: RequestEntry = defineRequest({
  code: RetrievalRequest.Get,
  name: "get file",
  payloadSize: boundedPayload(MAX_GET_PAYLOAD, "get request"),
  decode: decodeGetRequest,
  handle: async (scope, request, header) => {
    const clientId = await retrievingClient(scope, RetrievalRequest.Get, header.clientId);
    if (clientId === undefined) return;
    const outcome = await streamStoredFile({
      registry: scope.context.commit.registry,
      store: scope.context.store,
      clientId,
      write: (bytes) => scope.sendBytes(bytes),
      logger: scope.logger,
    }, request);
    if (outcome.kind === "refused") await scope.reject(RetrievalRequest.Get, outcome.text);
  },
});
