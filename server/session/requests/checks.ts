/**
 * Checks and answers several handlers share: the key proof required on the
 * secure port, and a storage failure answered with 1607.
 *
 * @module
 */

import { ProtocolError } from "../../../protocol/mod.ts";
import { StorageError } from "../../storage/file_store.ts";
import type { RequestScope } from "../scope.ts";

/**
 * On the secure port, nothing acts under an identity before its key proof.
 *
 * @throws {ProtocolError} when the proof is owed: the connection closes.
 */
export function requireProof(scope: RequestScope, what: string): void {
  if (scope.proofGate !== undefined && !scope.proofGate.proven) {
    throw new ProtocolError(
      `Cannot accept ${what}: the client has not proven it holds its private key (851)`,
    );
  }
}

/** Answers a storage failure with 1607 (the connection goes on); rethrows anything else. */
export async function storageFailed(
  scope: RequestScope,
  error: unknown,
  code: number,
): Promise<void> {
  if (!(error instanceof StorageError)) throw error;
  scope.logger.error("{message}; the upload was dropped", { message: error.message });
  await scope.reject(code, "the server could not store the file");
}
