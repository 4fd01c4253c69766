/**
 * 850, discovery (plain port, secure mode on): answered with the secure
 * port's offer, 1650 (`protocol/discovery.ts`). Served in any state, a resend
 * due included; the answer is encoded once, when the server starts. It does
 * not renew the idle timer: repeated every 20 s, it used to keep a slot
 * forever (issue 17).
 *
 * @module
 */

import { DISCOVERY_REQUEST_CODE } from "../../../protocol/discovery.ts";
import { defineRequest, exactPayload, type RequestEntry } from "../request_table.ts";

/** The table row of 850, answering with `answer` (a whole 1650 frame). */
export function discoveryRequest(answer: Uint8Array): RequestEntry {
  return defineRequest({
    code: DISCOVERY_REQUEST_CODE,
    name: "discovery",
    payloadSize: exactPayload(0, `request ${DISCOVERY_REQUEST_CODE}`),
    decode: () => undefined,
    handle: (scope) => scope.sendBytes(answer),
    servedWhileResendDue: true,
    renewsIdle: false, // repeating it must not keep a connection from being idle
  });
}
