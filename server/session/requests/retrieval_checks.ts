/**
 * What 860 and 861 check before they act (secure port only): a client signed
 * in on this connection, its key proven, and its own id in the header.
 *
 * | on arrival                               | answer                          |
 * |------------------------------------------|---------------------------------|
 * | nobody signed in on this connection      | 1607; the connection goes on    |
 * | signed in, the key proof still owed      | 1607, and the connection closes |
 * | another client's id in the header        | 1607; the connection goes on    |
 *
 * @module
 */

import { bytesEqual, type ClientId } from "../../../protocol/mod.ts";
import type { RequestScope } from "../scope.ts";
import { requireProof } from "./checks.ts";

/**
 * The signed-in client whose files a retrieval request may read, or
 * `undefined` after answering the refusal.
 *
 * @throws {ProtocolError} when the key proof is owed: the connection closes.
 */
export async function retrievingClient(
  scope: RequestScope,
  code: number,
  headerId: ClientId,
): Promise<ClientId | undefined> {
  const { client } = scope;
  if (client.kind !== "signed-in") {
    await scope.reject(code, "no client is signed in on this connection");
    return undefined;
  }
  requireProof(scope, `request ${code}`);
  if (!bytesEqual(headerId, client.client.clientId)) {
    await scope.reject(code, "the header's client id is not this connection's");
    return undefined;
  }
  return client.client.clientId;
}
