/**
 * The request tables of the other dialects, one per family, each made per
 * connection around its {@linkcode ConnectionDialect} (`docs/protocol.md`
 * §15). The dispatch (`request_table.ts`) and every rule of the reference's
 * handlers stay as they are; a family is its codes, its codecs, and the few
 * handlers its rules need:
 *
 * | meaning          | A (reference, per packet)      | B, D                  | C                          |
 * |------------------|--------------------------------|-----------------------|----------------------------|
 * | register         | 825: the reference's           | 1025 `sign_up.ts`     | 1100 `sign_up.ts`          |
 * | public key       | 826: the reference's           | 1026 `sign_up.ts`     | 1101 `sign_up.ts`, or a key reconnect (`reconnect.ts`) |
 * | reconnect        | 827: the reference's           | 1027 `reconnect.ts`   | none                       |
 * | send file        | 828: size 0 the reference's, 267 and more `send_file.ts` | 1028 `send_file.ts` (D per packet, B whole) | 1103 `send_file.ts` |
 * | CRC ok/bad/abort | 900-902: the reference's (per packet: a repeat of an acknowledged one acknowledged again) | 1029-1031 (`verdicts.ts`) | 1104-1106 (`verdicts.ts`) |
 *
 * B and D share one table: the connection answers as D until the client
 * shows which it is (`connection_dialect.ts`). Answers are encoded in the
 * family's shapes (`family_answers.ts`); a family A connection keeps the
 * reference's answers unless it uploads one 828 per packet.
 *
 * @module
 */

import { ProtocolError, type RequestHeader, type Response } from "../../../protocol/mod.ts";
import {
  bdDecision,
  type BdRequest,
  decodeDialectRequest,
  type Dialect as DialectName,
  FAMILY_TABLES,
  familyAUploadOf,
} from "../../../protocol/dialects/mod.ts";
import { defineRequest, type Dialect, type RequestEntry, requestTable } from "../request_table.ts";
import type { RequestScope } from "../scope.ts";
import { referenceDialect, type ReferencePort } from "../reference_dialect.ts";
import { ConnectionDialect, describeDialect } from "./connection_dialect.ts";
import { encodeFamilyResponse } from "./family_answers.ts";
import { keyReconnectInC, reconnectInDialect } from "./reconnect.ts";
import { receiveDialectFile, uploadPayloadSize } from "./send_file.ts";
import { recordKeyInDialect, registerInDialect } from "./sign_up.ts";
import { repeatAcknowledged, verdictEntry } from "./verdicts.ts";

/** Which dialects a server serves (`--dialects`). */
export type ServedDialects = ReadonlySet<DialectName>;

/** The small requests' decoded fields. */
interface SmallRequests {
  register: { name: string };
  reconnect: { name: string };
  publicKey: { name: string; publicKey: Uint8Array };
}

/** A small request of a family, decoded, with its raw payload for the B-or-D decision. */
interface Decoded<M extends keyof SmallRequests> {
  request: SmallRequests[M];
  seen: BdRequest;
}

function smallRequest<M extends keyof SmallRequests>(
  family: "B" | "C" | "D",
  meaning: M,
  handle: (scope: RequestScope, decoded: Decoded<M>, header: RequestHeader) => Promise<void>,
): RequestEntry {
  const code = FAMILY_TABLES[family].requests[meaning]!;
  const size = meaning === "publicKey" ? 415 : 255;
  return defineRequest<Decoded<M>>({
    code,
    name: meaning,
    payloadSize: (header) => {
      if (header.payloadSize !== size) {
        throw new ProtocolError(
          `Cannot accept request ${code}: payload size ${header.payloadSize} instead of ${size}`,
        );
      }
      return size;
    },
    decode: (payload) => ({
      request: decodeDialectRequest(family, meaning, payload) as unknown as SmallRequests[M],
      seen: { code, payload: payload.slice() },
    }),
    handle,
  });
}

/** The family A table: the reference's, with an 828 that also reads one request per packet. */
export function familyADialect(port: ReferencePort, served: ServedDialects): Dialect {
  const reference = referenceDialect(port);
  const dialect = new ConnectionDialect({ kind: "A" });
  const serveA = served.has("reference") || served.has("a-per-packet");
  const entries = serveA ? [...reference.requests.values()] : [];
  const requests = requestTable(entries.map((entry) => {
    switch (entry.code) {
      case 828:
        return familyASendFile(entry, dialect, served);
      case 900:
        return repeatAcknowledged(entry, "crcOk", dialect);
      case 902:
        return repeatAcknowledged(entry, "crcAbort", dialect);
      default:
        return entry;
    }
  }));
  return {
    get name() {
      return describeDialect(dialect.state);
    },
    requests,
    encodeResponse: (response: Response) =>
      dialect.state.kind === "A" && dialect.state.upload === "per-packet"
        ? encodeFamilyResponse("A", response)
        : reference.encodeResponse(response),
  };
}

/**
 * 828 in family A: payload size 0 is the reference's upload, served by its
 * own entry, unchanged; 267 or more is one request per packet. The first
 * 828 decides; a later one must keep to it.
 */
function familyASendFile(
  reference: RequestEntry,
  dialect: ConnectionDialect,
  served: ServedDialects,
): RequestEntry {
  const refuse = (header: RequestHeader, why: string) =>
    new ProtocolError(`Cannot accept request 828: payload size ${header.payloadSize} ${why}`);
  return {
    code: reference.code,
    name: reference.name,
    servedWhileResendDue: reference.servedWhileResendDue,
    payloadSize: (header) => {
      const state = dialect.state;
      const decided = state.kind === "A" ? state.upload : undefined;
      const perPacket = header.payloadSize >= 267;
      if (!perPacket) {
        if (header.payloadSize !== 0 || !served.has("reference")) {
          throw refuse(header, "instead of 0");
        }
        if (decided === "per-packet") throw refuse(header, "on a connection uploading per packet");
        return reference.payloadSize(header);
      }
      if (!served.has("a-per-packet")) throw refuse(header, "instead of 0");
      if (decided === "reference") throw refuse(header, "on a connection of the reference dialect");
      return uploadPayloadSize("per-packet", header);
    },
    decode: (payload, header) => {
      const framing = familyAUploadOf(header.payloadSize);
      const handle = framing === "reference" ? reference.decode(payload, header) : undefined;
      return async (scope) => {
        dialect.set({ kind: "A", upload: framing });
        if (handle !== undefined) return await handle(scope);
        dialect.announce(scope.logger, "an 828 that carries its packet");
        await receiveDialectFile(scope, "per-packet", header);
      };
    },
  };
}

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
