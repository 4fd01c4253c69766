/**
 * The small requests of families B, C and D (register, public key,
 * reconnect) as table rows: their exact payload size checked before reading,
 * their payload decoded by the dialect codecs, and the raw payload kept for
 * the B-or-D decision (a repeated request is compared byte for byte).
 *
 * @module
 */

import { ProtocolError, type RequestHeader } from "../../../protocol/mod.ts";
import {
  type BdRequest,
  decodeDialectRequest,
  FAMILY_TABLES,
} from "../../../protocol/dialects/mod.ts";
import { defineRequest, type RequestEntry } from "../request_table.ts";
import type { RequestScope } from "../scope.ts";

/** The small requests' decoded fields. */
export interface SmallRequests {
  register: { name: string };
  reconnect: { name: string };
  publicKey: { name: string; publicKey: Uint8Array };
}

/** A small request of a family, decoded, with its raw payload for the B-or-D decision. */
export interface Decoded<M extends keyof SmallRequests> {
  request: SmallRequests[M];
  seen: BdRequest;
}

/** The table row of `meaning` in `family`, served by `handle`. */
export function smallRequest<M extends keyof SmallRequests>(
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
