/**
 * Registering in families B, C and D (1025, 1100; then 1026, 1101): the
 * reference's rules (`requests/register.ts`, `requests/public_key.ts`)
 * with ids issued without zero bytes, the client recorded with its family,
 * a key of the family's size, and one more case: a register request for
 * the name this connection already reserved (a family B client repeating
 * its 1025 after a D-shaped answer, or registering after a refused
 * reconnect) is answered with the reserved id, not "name taken".
 *
 * | state on arrival                 | register                  | public key                      |
 * |----------------------------------|---------------------------|---------------------------------|
 * | unsigned, name free              | registered, a new id; registering | C: a key reconnect (`reconnect.ts`); else 1607 |
 * | unsigned, name taken             | refused (empty)           | as above                        |
 * | unsigned, the address over its registrations per minute | refused (empty), `requests/register.ts` | as above |
 * | registering this name            | registered, the same id   | recorded with the family, key sent; signed in |
 * | registering, name taken meanwhile| —                         | refused (empty); unsigned       |
 * | registering another name, signed in | 1607                   | 1607                            |
 *
 * @module
 */

import { clientIdToHex, importPublicKey, ResponseCode } from "../../../protocol/mod.ts";
import { issueClientId } from "../../../protocol/dialects/mod.ts";
import type { RequestScope } from "../scope.ts";
import type { ConnectionDialect } from "./connection_dialect.ts";
import { takeRegistration } from "../requests/register.ts";
import { signInDialect } from "./dialect_sign_in.ts";

/** Serves a register request (1025, 1100). */
export async function registerInDialect(
  scope: RequestScope,
  dialect: ConnectionDialect,
  code: number,
  name: string,
): Promise<void> {
  const { client } = scope;
  if (client.kind === "registering" && client.name === name) {
    scope.logger.info("Name {name} is this connection's: the same id {clientId} again", {
      name,
      clientId: clientIdToHex(client.clientId),
    });
    await scope.send({ code: ResponseCode.Registered, clientId: client.clientId });
    return;
  }
  if (client.kind !== "unsigned") {
    await scope.reject(code, "a client is already signed in or registering on this connection");
    return;
  }
  if (await scope.context.commit.registry.clientByName(name) !== undefined) {
    scope.logger.warn("Registration of {name} refused: the name is taken", { name });
    await scope.send({ code: ResponseCode.RegisterFailed, text: "" });
    return;
  }
  if (!(await takeRegistration(scope, name))) return;
  const clientId = issueClientId();
  scope.setClient({ kind: "registering", clientId, name });
  scope.logger.info("Name {name} is free: offered id {clientId} in {family}, waiting for its key", {
    name,
    clientId: clientIdToHex(clientId),
    family: `family ${dialect.answering}`,
  });
  await scope.send({ code: ResponseCode.Registered, clientId });
}

/** Serves the public key of the name this connection registers (1026, 1101). */
export async function recordKeyInDialect(
  scope: RequestScope,
  dialect: ConnectionDialect,
  code: number,
  request: { name: string; publicKey: Uint8Array },
): Promise<void> {
  const registering = scope.client;
  const { name, publicKey } = request;
  if (registering.kind !== "registering" || registering.name !== name) {
    await scope.reject(code, "a key is accepted only on the connection that registered the name");
    return;
  }
  let key: CryptoKey;
  try {
    key = await importPublicKey(publicKey);
  } catch (error) {
    await scope.reject(code, (error as Error).message);
    return;
  }
  const family = dialect.answering;
  const { clientId } = registering;
  const { registry } = scope.context.commit;
  if (!(await registry.addClient({ id: clientId, name, publicKey, dialect: family }))) {
    scope.setClient({ kind: "unsigned" });
    scope.logger.warn("Registration of {name} refused: the name was taken meanwhile", { name });
    await scope.send({ code: ResponseCode.RegisterFailed, text: "" });
    return;
  }
  scope.logger.info("Registered {name} as {clientId} in family {family}", {
    name,
    clientId: clientIdToHex(clientId),
    family,
  });
  await signInDialect(scope, family, { clientId, name, publicKey: key }, ResponseCode.KeyAccepted);
}
