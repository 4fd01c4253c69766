/**
 * Signing a client in on a connection, after 826 or 827: a fresh AES key,
 * wrapped with the client's public key, answered in 1602 or 1605. The upload
 * the connection had in hand is dropped; on the secure port, a key proof
 * (851) is due from now on.
 *
 * @module
 */

import {
  type ClientId,
  generateAesKey,
  importAesKey,
  ResponseCode,
  wrapAesKey,
} from "../../../protocol/mod.ts";
import type { RequestScope } from "../scope.ts";

/**
 * Signs in `clientId` as `name` and sends it the AES key wrapped with
 * `publicKey`, answered with `code`.
 */
export async function signIn(
  scope: RequestScope,
  client: { clientId: ClientId; name: string; publicKey: CryptoKey },
  code: typeof ResponseCode.KeyAccepted | typeof ResponseCode.ReconnectApproved,
): Promise<void> {
  const { clientId, name } = client;
  const raw = generateAesKey();
  const wrappedKey = await wrapAesKey(client.publicKey, raw);
  await scope.forgetUpload();
  scope.setClient({
    kind: "signed-in",
    client: { clientId, name, aesKey: await importAesKey(raw) },
  });
  await scope.proofGate?.challenge(raw);
  raw.fill(0);
  await scope.send({ code, clientId, wrappedKey });
}
