/**
 * The client's side of the key proof (`protocol/key_proof.ts`): over TLS,
 * right after unwrapping an AES key (1602 or 1605), the client shows the
 * server that it could, before anything else under its identity. A new
 * identity is saved only after the server accepted the proof.
 *
 * @module
 */

import { computeKeyProof, encodeKeyProofRequest } from "../protocol/key_proof.ts";
import { bytesEqual, type ClientId, ResponseCode } from "../protocol/mod.ts";
import { RejectedError } from "./client_error.ts";
import type { ServerConnection } from "./connection.ts";

/**
 * Sends the proof for `aesKey` and reads the server's 1604.
 *
 * @param fingerprint The fingerprint of the server's certificate (the TLS
 * connection was authenticated with it).
 * @throws {RejectedError} if the server refuses the proof or answers
 * anything but 1604 for our id; a `NetworkError` if the connection fails.
 */
export async function proveKeyPossession(
  connection: ServerConnection,
  clientId: ClientId,
  aesKey: Uint8Array,
  fingerprint: Uint8Array,
): Promise<void> {
  const proof = await computeKeyProof(aesKey, fingerprint);
  await connection.send(encodeKeyProofRequest(clientId, proof), "send our key proof");
  const answer = await connection.receive();
  if (answer.code === ResponseCode.Ack && bytesEqual(answer.clientId, clientId)) return;
  throw new RejectedError({
    action: `prove our identity to ${connection.address}`,
    reason: answer.code === ResponseCode.GeneralError
      ? `the server refused the key proof (1607: ${JSON.stringify(answer.text)})`
      : `it answered ${answer.code} to our key proof, expected 1604 for our id`,
    hint: "Check the server's log",
  });
}
