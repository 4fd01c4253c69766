/**
 * What the transfer requests (852, 853; docs/protocol.md §13.4) share: their
 * payload sizes, checked before a byte is read; the signed-in client they act
 * for; and the partial uploads' view of the session context.
 *
 * @module
 */

import { bytesEqual, type ClientId, ProtocolError } from "../../../protocol/mod.ts";
import type { RequestHeader } from "../../../protocol/mod.ts";
import { keepCut, type PartialContext } from "../../upload/partials.ts";
import type { CutUpload } from "../../upload/upload.ts";
import { formatBytes } from "../../../common/units.ts";
import type { RequestScope } from "../scope.ts";

/**
 * A payload of at most `max` bytes (a path's limit), with a path of at least
 * one byte; anything else closes the connection.
 */
export function transferPayload(code: number, max: number): (header: RequestHeader) => number {
  return (header) => {
    if (header.payloadSize > max) {
      throw new ProtocolError(
        `Cannot accept request ${code}: payload size ${header.payloadSize}, more than ${max}`,
      );
    }
    return header.payloadSize;
  };
}

/**
 * The signed-in client whose id the header carries.
 *
 * @throws {ProtocolError} when nobody is signed in or the id is another's:
 * the connection closes.
 */
export function signedInClient(scope: RequestScope, headerId: ClientId, what: string): ClientId {
  const { client } = scope;
  if (client.kind !== "signed-in") {
    throw new ProtocolError(
      `Cannot accept ${what}: no key exchange (826 or 827) on this connection`,
    );
  }
  if (!bytesEqual(headerId, client.client.clientId)) {
    throw new ProtocolError(
      `Cannot accept ${what}: the header's client id is not this connection's`,
    );
  }
  return client.client.clientId;
}

/**
 * What a cut upload of this connection does: keeps its bytes for a resume
 * (`upload/partials.ts`) and says so in the log.
 */
export function keepCutUpload(
  scope: RequestScope,
  clientId: ClientId,
): (cut: CutUpload) => Promise<void> {
  return async (cut) => {
    // The connection's reservation goes as the kept bytes are recorded: they count once.
    await keepCut(partialContext(scope), clientId, cut, scope.heldReservation?.());
    scope.logger.info("Kept {kept} of {fileName} ({size}), cut, for the client to resume", {
      kept: formatBytes(cut.kept.length),
      fileName: cut.fileName,
      size: formatBytes(cut.size),
    });
  };
}

/** The session context as the partial uploads need it. */
export function partialContext(scope: RequestScope): PartialContext {
  const { context } = scope;
  return {
    registry: context.commit.registry,
    store: context.store,
    maxFileSize: context.maxFileSize,
    instanceId: context.commit.instanceId,
  };
}
