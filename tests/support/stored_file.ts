/**
 * Stores a file straight through a server's default storage (the SQLite
 * registry and the folder store in its data folder), committed as an upload
 * is: for tests that need a stored file the protocol cannot make, such as
 * one with folders in its name (folder uploads are issue 20's).
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { cksum, type ClientId, sha256Hex } from "../../protocol/mod.ts";
import { commitUpload } from "../../server/upload/commit.ts";
import { LocalFileStore } from "../../server/storage/file_store_local.ts";
import { SqliteRegistry } from "../../server/storage/registry_sqlite.ts";

/** Stores `data` as `path` of `clientId` in the server's data folder `dir`. */
export async function storeInFolder(
  dir: string,
  clientId: ClientId,
  path: string,
  data: Uint8Array,
): Promise<void> {
  const registry = await SqliteRegistry.open(join(dir, "server.db"));
  const files = await LocalFileStore.open(join(dir, "received_files"));
  try {
    const staged = await files.begin(clientId, path);
    await staged.write(data);
    await staged.seal();
    const refused = await commitUpload(
      {
        clientId,
        fileName: path,
        staged,
        size: data.length,
        cksum: cksum(data),
        sha256: sha256Hex(data),
      },
      { registry, limits: { maxFiles: 1000, maxBytes: 1e12 }, instanceId: "test" },
    );
    assert.equal(refused, undefined);
  } finally {
    await files.close();
    await registry.close();
  }
}
