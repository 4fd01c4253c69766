/**
 * What 900, 901 and 902 share: the upload awaiting the client's verdict,
 * taken from the connection's state once the request is found to be in
 * order.
 *
 * | state on arrival                              | result                                   |
 * |-----------------------------------------------|------------------------------------------|
 * | signed in, an upload awaits its verdict, same id | the upload; the state no longer holds it |
 * | no upload awaits a verdict, or another id     | 1607, the connection goes on             |
 * | on the secure port, no key proof              | `ProtocolError`: 1607, the connection closes |
 *
 * @module
 */

import { bytesEqual, type ClientId } from "../../../protocol/mod.ts";
import type { UploadResult } from "../../upload/upload.ts";
import type { SignedInClient } from "../connection_state.ts";
import type { RequestScope } from "../scope.ts";
import { requireProof } from "./checks.ts";

/** The signed-in client and the upload its verdict is about. */
export interface VerdictDue {
  /** The client. */
  client: SignedInClient;
  /** The upload, no longer in the connection's state. */
  upload: UploadResult;
}

/**
 * Takes the upload awaiting a verdict out of the connection's state, or
 * answers 1607 and returns `undefined` when there is none for `headerId`.
 */
export async function takeVerdictDue(
  scope: RequestScope,
  code: number,
  headerId: ClientId,
): Promise<VerdictDue | undefined> {
  const state = scope.client;
  if (state.kind !== "signed-in" || state.upload?.kind !== "awaiting-verdict") {
    await scope.reject(code, "no file received on this connection awaits a verdict");
    return undefined;
  }
  if (!bytesEqual(headerId, state.client.clientId)) {
    await scope.reject(code, "the header's client id is not this connection's");
    return undefined;
  }
  requireProof(scope, `request ${code}`);
  scope.setClient({ kind: "signed-in", client: state.client });
  return { client: state.client, upload: state.upload.upload };
}
