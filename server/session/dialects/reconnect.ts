/**
 * Signing in again in families B, C and D (`docs/protocol.md` §15.6).
 *
 * B and D (1027, name; the header id is the stored one):
 *
 * | the record of the name                        | answer                                   |
 * |-----------------------------------------------|------------------------------------------|
 * | this id, family B or D (and, once the connection is decided, the same) | reconnect approved in the record's family, a fresh key; B or D decided |
 * | none                                          | reconnect refused with an id reserved for the name on this connection (the same on a repeat): a register request for the name gets that id; the reservation counts against the address's registrations (`requests/register.ts`), and over them nothing is reserved (the header's id) |
 * | another id, or a client of another family     | reconnect refused with the header's id; a register request then gets "name taken" |
 *
 * C has no reconnect: its clients send the public key again (1101) with the
 * stored id. Accepted only for a family C client whose id, name and key
 * all equal the record (the key is never replaced this way): a fresh
 * AES-128 key. Anything else: 2107, empty; the client exits.
 *
 * @module
 */

import {
  bytesEqual,
  type ClientId,
  clientIdToHex,
  importPublicKey,
  ResponseCode,
} from "../../../protocol/mod.ts";
import { issueClientId } from "../../../protocol/dialects/mod.ts";
import type { RequestScope } from "../scope.ts";
import type { ConnectionDialect } from "./connection_dialect.ts";
import { countRegistration } from "../requests/register.ts";
import { signInDialect } from "./dialect_sign_in.ts";

/** Serves a B or D reconnect (1027). */
export async function reconnectInDialect(
  scope: RequestScope,
  dialect: ConnectionDialect,
  code: number,
  headerId: ClientId,
  name: string,
): Promise<void> {
  const { registry } = scope.context.commit;
  const record = await registry.clientByName(name);
  const decided = dialect.state.kind;
  const family = record?.dialect;
  const refusal = record === undefined
    ? "unknown name"
    : !bytesEqual(record.id, headerId)
    ? "the client id does not match"
    : family !== "B" && family !== "D"
    ? `the client registered in family ${family}`
    : decided !== "B or D" && decided !== family
    ? `the client registered in family ${family}, this connection speaks family ${decided}`
    : undefined;
  if (refusal !== undefined || record === undefined || (family !== "B" && family !== "D")) {
    await refuseReconnect(scope, headerId, name, record === undefined, refusal ?? "");
    return;
  }
  let key: CryptoKey;
  try {
    key = await importPublicKey(record.publicKey);
  } catch (error) {
    await scope.reject(code, (error as Error).message);
    return;
  }
  if (decided === "B or D") {
    dialect.set({ kind: family });
    dialect.announce(scope.logger, `a reconnect of a family ${family} client`);
  }
  await registry.touchClient(record.id);
  await signInDialect(
    scope,
    family,
    { clientId: record.id, name, publicKey: key },
    ResponseCode.ReconnectApproved,
  );
  scope.logger.info("Reconnected {name} ({clientId}): fresh AES key sent", {
    name,
    clientId: clientIdToHex(record.id),
  });
}

/**
 * Refuses a reconnect. For an unknown name, the answer's id is one reserved
 * for that name on this connection, so that the client's register request
 * (or, for clients that take it as their id, its key) can follow.
 */
async function refuseReconnect(
  scope: RequestScope,
  headerId: ClientId,
  name: string,
  unknown: boolean,
  reason: string,
): Promise<void> {
  scope.logger.warn("Reconnect of {name} denied: {reason}", { name, reason });
  const { client } = scope;
  let clientId = headerId;
  if (unknown && client.kind === "registering" && client.name === name) {
    clientId = client.clientId;
  } else if (unknown && client.kind === "unsigned" && countRegistration(scope, name)) {
    clientId = issueClientId();
    scope.setClient({ kind: "registering", clientId, name });
  }
  await scope.send({ code: ResponseCode.ReconnectDenied, clientId, text: "" });
}

/** Serves a family C public key sent by a client not registering on this connection (1101). */
export async function keyReconnectInC(
  scope: RequestScope,
  code: number,
  headerId: ClientId,
  request: { name: string; publicKey: Uint8Array },
): Promise<void> {
  const { registry } = scope.context.commit;
  const { name, publicKey } = request;
  const record = await registry.clientByName(name);
  const refusal = record === undefined
    ? "unknown name"
    : !bytesEqual(record.id, headerId)
    ? "the client id does not match"
    : record.dialect !== "C"
    ? `the client registered in family ${record.dialect}`
    : !bytesEqual(record.publicKey, publicKey)
    ? "the public key is not the one on record"
    : undefined;
  if (refusal !== undefined || record === undefined) {
    scope.logger.warn("Sign-in of {name} by its key denied: {reason}", { name, reason: refusal });
    await scope.reject(code, `sign-in refused: ${refusal}`);
    return;
  }
  let key: CryptoKey;
  try {
    key = await importPublicKey(record.publicKey);
  } catch (error) {
    await scope.reject(code, (error as Error).message);
    return;
  }
  await registry.touchClient(record.id);
  await signInDialect(
    scope,
    "C",
    { clientId: record.id, name, publicKey: key },
    ResponseCode.KeyAccepted,
  );
  scope.logger.info("Signed in {name} ({clientId}) by its recorded key: fresh AES key sent", {
    name,
    clientId: clientIdToHex(record.id),
  });
}
