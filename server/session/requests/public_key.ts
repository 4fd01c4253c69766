/**
 * 826, public key: the client registered with 825 on this connection sends
 * its key; it is recorded, and the client signed in (`sign_in.ts`). Name and
 * id travel in clear, so an 826 on any other connection is refused.
 *
 * | state on arrival                 | answer                                  | state after  |
 * |----------------------------------|-----------------------------------------|--------------|
 * | registering this name            | 1602 with the wrapped AES key           | signed in    |
 * | registering, name taken meanwhile| 1601                                    | unsigned     |
 * | registering, key does not import | 1607                                    | unchanged    |
 * | anything else                    | 1607                                    | unchanged    |
 *
 * @module
 */

import { errorMessage } from "../../../common/error_message.ts";
import {
  clientIdToHex,
  importPublicKey,
  RequestCode,
  ResponseCode,
} from "../../../protocol/mod.ts";
import { defineRequest, type RequestEntry } from "../request_table.ts";
import type { RequestScope } from "../scope.ts";
import { referenceCodec } from "./reference_codec.ts";
import { answerNameTaken } from "./register.ts";
import { signIn } from "./sign_in.ts";

/** The table row of 826. */
export const publicKeyRequest: RequestEntry = defineRequest({
  ...referenceCodec(RequestCode.PublicKey),
  name: "public key",
  handle: (scope, request) => acceptPublicKey(scope, request.name, request.publicKey),
});

async function acceptPublicKey(
  scope: RequestScope,
  name: string,
  publicKey: Uint8Array,
): Promise<void> {
  const registering = scope.client;
  if (registering.kind !== "registering" || registering.name !== name) {
    await scope.reject(
      RequestCode.PublicKey,
      "826 is accepted only on the connection that registered the name with 825",
    );
    return;
  }
  let key: CryptoKey;
  try {
    key = await importPublicKey(publicKey);
  } catch (error) {
    await scope.reject(RequestCode.PublicKey, errorMessage(error));
    return;
  }
  const { clientId } = registering;
  if (!(await scope.context.commit.registry.addClient({ id: clientId, name, publicKey }))) {
    scope.setClient({ kind: "unsigned" });
    await answerNameTaken(scope, name);
    return;
  }
  scope.logger.info("Registered {name} as {clientId}", { name, clientId: clientIdToHex(clientId) });
  await signIn(scope, { clientId, name, publicKey: key }, ResponseCode.KeyAccepted);
  scope.logger.info("Key exchange with {name} ({clientId}): public key stored, AES key sent", {
    name,
    clientId: clientIdToHex(clientId),
  });
}
