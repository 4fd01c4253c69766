/**
 * Family C's table (1100, 1101, 1103-1106; `docs/protocol.md` §15.5): no
 * reconnect request, so a public key (1101) on a connection that did not
 * register is a sign-in by the recorded key (`reconnect.ts`); the whole file
 * in one 1103; verdicts with the client id in their payload, "CRC bad,
 * resend" acknowledged, every acknowledgement empty.
 *
 * @module
 */

import type { RequestHeader } from "../../../protocol/mod.ts";
import { defineRequest, type Dialect, requestTable } from "../request_table.ts";
import type { RequestScope } from "../scope.ts";
import { ConnectionDialect } from "./connection_dialect.ts";
import { encodeFamilyResponse } from "./family_answers.ts";
import { keyReconnectInC } from "./reconnect.ts";
import { receiveDialectFile, uploadPayloadSize } from "./send_file.ts";
import { recordKeyInDialect, registerInDialect } from "./sign_up.ts";
import { smallRequest } from "./small_request.ts";
import { verdictEntry } from "./verdicts.ts";

/** The family C table (1100, 1101, 1103-1106). */
export function familyCDialect(): Dialect {
  const dialect = new ConnectionDialect({ kind: "C" });
  const announced =
    <T>(fn: (scope: RequestScope, request: T, header: RequestHeader) => Promise<void>) =>
    async (scope: RequestScope, decoded: { request: T }, header: RequestHeader) => {
      dialect.announce(scope.logger, `request ${header.code}`);
      await fn(scope, decoded.request, header);
    };
  const requests = requestTable([
    smallRequest(
      "C",
      "register",
      announced((scope, request: { name: string }) =>
        registerInDialect(scope, dialect, 1100, request.name)
      ),
    ),
    smallRequest(
      "C",
      "publicKey",
      announced((scope, request: { name: string; publicKey: Uint8Array }, header) =>
        scope.client.kind === "unsigned"
          ? keyReconnectInC(scope, 1101, header.clientId, request)
          : recordKeyInDialect(scope, dialect, 1101, request)
      ),
    ),
    defineRequest({
      code: 1103,
      name: "send file",
      payloadSize: (header) => uploadPayloadSize("C", header),
      decode: () => undefined,
      handle: (scope, _request, header) => receiveDialectFile(scope, "C", header),
      servedWhileResendDue: true,
    }),
    verdictEntry("crcOk", 1104, { withId: true }),
    verdictEntry("crcRetry", 1105, { withId: true, answerRetry: true }),
    verdictEntry("crcAbort", 1106, { withId: true }),
  ]);
  return {
    name: "family C",
    requests,
    encodeResponse: (response) => encodeFamilyResponse("C", response),
  };
}
