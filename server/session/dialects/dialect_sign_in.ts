/**
 * Signing a client in on a connection of another dialect: a fresh AES key
 * of the family's size (16 bytes for B and C, 32 for A and D), wrapped with
 * the client's public key, answered as a key (1602/2102) or an approved
 * reconnect (1605/2105). The upload the connection had in hand is dropped.
 * The reference dialect's own sign-in is `requests/sign_in.ts`.
 *
 * @module
 */

import { type ClientId, ResponseCode } from "../../../protocol/mod.ts";
import {
  type Family,
  FAMILY_TABLES,
  generateDialectAesKey,
  importDialectAesKey,
  wrapDialectAesKey,
} from "../../../protocol/dialects/mod.ts";
import type { RequestScope } from "../scope.ts";

/** Signs in `client` with a key of `family`'s size and answers with `code`. */
export async function signInDialect(
  scope: RequestScope,
  family: Family,
  client: { clientId: ClientId; name: string; publicKey: CryptoKey },
  code: typeof ResponseCode.KeyAccepted | typeof ResponseCode.ReconnectApproved,
): Promise<void> {
  const { clientId, name } = client;
  const raw = generateDialectAesKey(FAMILY_TABLES[family].aesKeySize);
  const wrappedKey = await wrapDialectAesKey(client.publicKey, raw);
  await scope.forgetUpload();
  scope.setClient({
    kind: "signed-in",
    client: { clientId, name, aesKey: await importDialectAesKey(raw) },
  });
  raw.fill(0);
  await scope.send({ code, clientId, wrappedKey });
}
