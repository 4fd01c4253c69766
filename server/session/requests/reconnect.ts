/**
 * 827, reconnect: a registered client signs in again with its id (in the
 * header) and name, and gets a fresh AES key (`sign_in.ts`).
 *
 * | state on arrival | header id and name                  | answer      | state after |
 * |------------------|-------------------------------------|-------------|-------------|
 * | any              | a registered client's               | 1605        | signed in   |
 * | any              | unknown name, another client's id, or a client of another family of dialects | 1606 | unchanged |
 * | any              | recorded key does not import        | 1607        | unchanged   |
 *
 * @module
 */

import { errorMessage } from "../../../common/error_message.ts";
import {
  bytesEqual,
  type ClientId,
  clientIdToHex,
  importPublicKey,
  RequestCode,
  ResponseCode,
} from "../../../protocol/mod.ts";
import { defineRequest, type RequestEntry } from "../request_table.ts";
import type { RequestScope } from "../scope.ts";
import { shortText } from "../short_text.ts";
import { referenceCodec } from "./reference_codec.ts";
import { signIn } from "./sign_in.ts";

/** The table row of 827. */
export const reconnectRequest: RequestEntry = defineRequest({
  ...referenceCodec(RequestCode.Reconnect),
  name: "reconnect",
  handle: (scope, request, header) => reconnect(scope, header.clientId, request.name),
});

async function reconnect(scope: RequestScope, headerId: ClientId, name: string): Promise<void> {
  const { registry } = scope.context.commit;
  const client = await registry.clientByName(name);
  // A client registered in another family of dialects is not signed in here.
  if (client === undefined || !bytesEqual(client.id, headerId) || client.dialect !== "A") {
    scope.logger.warn("Reconnect of {name} denied: {reason}", {
      name,
      reason: client === undefined
        ? "unknown name"
        : client.dialect !== "A"
        ? `the client registered in family ${client.dialect}`
        : "the client id does not match",
    });
    await scope.send({
      code: ResponseCode.ReconnectDenied,
      text: shortText(`Sign in failed for '${name}'. Please register.`),
    });
    return;
  }
  let key: CryptoKey;
  try {
    key = await importPublicKey(client.publicKey);
  } catch (error) {
    await scope.reject(RequestCode.Reconnect, errorMessage(error));
    return;
  }
  await registry.touchClient(client.id);
  await signIn(
    scope,
    { clientId: client.id, name, publicKey: key },
    ResponseCode.ReconnectApproved,
  );
  scope.logger.info("Reconnected {name} ({clientId}): fresh AES key sent", {
    name,
    clientId: clientIdToHex(client.id),
  });
}
