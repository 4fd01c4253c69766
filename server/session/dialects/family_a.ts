/**
 * Family A's table (`docs/protocol.md` §15.3): the reference's own, with an
 * 828 that also reads one request per packet. Payload size 0 is the
 * reference's upload, served by its entry, unchanged; 267 or more is one
 * request per packet; the first 828 decides and later ones keep to it. The
 * answers stay the reference's until the connection uploads per packet,
 * then take family A's shapes (§15.7); there, a CRC ok or abort sent again
 * after it was acknowledged is acknowledged again (`verdicts.ts`).
 *
 * @module
 */

import { ProtocolError, type RequestHeader, type Response } from "../../../protocol/mod.ts";
import { familyAUploadOf } from "../../../protocol/dialects/mod.ts";
import { type Dialect, type RequestEntry, requestTable } from "../request_table.ts";
import { referenceDialect, type ReferencePort } from "../reference_dialect.ts";
import { ConnectionDialect, describeDialect } from "./connection_dialect.ts";
import { encodeFamilyResponse } from "./family_answers.ts";
import type { ServedDialects } from "./family_tables.ts";
import { receiveDialectFile, uploadPayloadSize } from "./send_file.ts";
import { repeatAcknowledged } from "./verdicts.ts";

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
