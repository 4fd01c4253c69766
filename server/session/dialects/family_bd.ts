/**
 * The B-or-D table (1025-1031; `docs/protocol.md` §15.2, §15.4, §15.3): B
 * and D lay out their first requests alike, so the connection answers as D
 * until the client shows which it is: the same request again after a
 * D-shaped answer is a B client that did not know its code, anything else a
 * D client that read it (`bdDecision`); a reconnect of a recorded client
 * decides by the record. Uploads: D one 1028 per packet, B the whole file.
 *
 * @module
 */

import { ProtocolError, type RequestHeader } from "../../../protocol/mod.ts";
import { bdDecision } from "../../../protocol/dialects/mod.ts";
import { defineRequest, type Dialect, requestTable } from "../request_table.ts";
import type { RequestScope } from "../scope.ts";
import { ConnectionDialect, describeDialect } from "./connection_dialect.ts";
import { encodeFamilyResponse } from "./family_answers.ts";
import type { ServedDialects } from "./family_tables.ts";
import { reconnectInDialect } from "./reconnect.ts";
import { receiveDialectFile, uploadPayloadSize } from "./send_file.ts";
import { recordKeyInDialect, registerInDialect } from "./sign_up.ts";
import { smallRequest, type SmallRequests } from "./small_request.ts";
import { verdictEntry } from "./verdicts.ts";

/** The B-or-D table (1025-1031), answering as D until the client shows which it is. */
export function familyBdDialect(served: ServedDialects): Dialect {
  const dialect = new ConnectionDialect(
    served.has("b") && served.has("d") ? { kind: "B or D" } : { kind: served.has("b") ? "B" : "D" },
  );
  /** Decides B or D from a request following a D-shaped answer, then serves it. */
  const observed = <M extends keyof SmallRequests>(
    meaning: M,
    handle: (
      scope: RequestScope,
      request: SmallRequests[M],
      header: RequestHeader,
    ) => Promise<void>,
  ) =>
    smallRequest("D", meaning, async (scope, { request, seen }, header) => {
      const state = dialect.state;
      if (state.kind === "B or D") {
        const decision = bdDecision(state.answeredAsD, seen);
        if (decision !== undefined) {
          dialect.set({ kind: decision });
          dialect.announce(
            scope.logger,
            decision === "B"
              ? `request ${seen.code} repeated after an answer of family D`
              : `request ${seen.code} after an answer of family D`,
          );
        } else {
          dialect.announce(scope.logger, `first request ${seen.code}`);
        }
      }
      await handle(scope, request, header);
      if (dialect.state.kind === "B or D") dialect.set({ kind: "B or D", answeredAsD: seen });
    });
  const framing = () => {
    const kind = dialect.state.kind;
    if (kind !== "B" && kind !== "D") {
      throw new ProtocolError("Cannot accept file: no key exchange on this connection");
    }
    return kind === "D" ? "per-packet" : "B";
  };
  const requests = requestTable([
    observed("register", (scope, request) => registerInDialect(scope, dialect, 1025, request.name)),
    observed("publicKey", (scope, request) => recordKeyInDialect(scope, dialect, 1026, request)),
    observed(
      "reconnect",
      (scope, request, header) =>
        reconnectInDialect(scope, dialect, 1027, header.clientId, request.name),
    ),
    defineRequest({
      code: 1028,
      name: "send file",
      payloadSize: (header) => uploadPayloadSize(framing(), header),
      decode: () => undefined,
      handle: (scope, _request, header) => receiveDialectFile(scope, framing(), header),
      servedWhileResendDue: true,
    }),
    verdictEntry("crcOk", 1029),
    verdictEntry("crcRetry", 1030),
    verdictEntry("crcAbort", 1031),
  ]);
  return {
    get name() {
      return describeDialect(dialect.state);
    },
    requests,
    encodeResponse: (response) => encodeFamilyResponse(dialect.answering, response),
  };
}
