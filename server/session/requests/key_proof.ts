/**
 * 851, key proof (secure port): the client shows it could unwrap the AES key
 * just sent (`protocol/key_proof.ts`, `../tls_proof.ts`). Served in any
 * state, a resend due included.
 *
 * | on arrival                                        | answer                        |
 * |---------------------------------------------------|-------------------------------|
 * | a proof due for the signed-in client, and right   | 1604; the client may act      |
 * | wrong, none due, or another client's id           | 1607, and the connection closes |
 *
 * @module
 */

import {
  bytesEqual,
  type ClientId,
  clientIdToHex,
  ProtocolError,
  ResponseCode,
} from "../../../protocol/mod.ts";
import { KEY_PROOF_REQUEST_CODE, KEY_PROOF_SIZE } from "../../../protocol/key_proof.ts";
import { defineRequest, exactPayload, type RequestEntry } from "../request_table.ts";
import type { RequestScope } from "../scope.ts";

/** The table row of 851. */
export const keyProofRequest: RequestEntry = defineRequest({
  code: KEY_PROOF_REQUEST_CODE,
  name: "key proof",
  payloadSize: exactPayload(KEY_PROOF_SIZE, "key proof"),
  decode: (payload) => payload,
  handle: (scope, proof, header) => checkKeyProof(scope, header.clientId, proof),
  servedWhileResendDue: true,
});

/** Right: 1604. Wrong, or none due: a `ProtocolError`, and the connection closes. */
async function checkKeyProof(
  scope: RequestScope,
  headerId: ClientId,
  proof: Uint8Array,
): Promise<void> {
  const gate = scope.proofGate;
  const state = scope.client;
  if (
    gate === undefined || state.kind !== "signed-in" || !gate.due ||
    !bytesEqual(headerId, state.client.clientId)
  ) {
    throw new ProtocolError("Cannot accept key proof: no AES key sent to this client awaits one");
  }
  const { clientId, name } = state.client;
  if (!gate.check(proof)) {
    throw new ProtocolError(
      `Cannot accept key proof: ${name} did not prove it holds the private key`,
    );
  }
  scope.logger.info("{name} ({clientId}) proved it holds its private key", {
    name,
    clientId: clientIdToHex(clientId),
  });
  await scope.send({ code: ResponseCode.Ack, clientId });
}
