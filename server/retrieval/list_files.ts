/**
 * 860, one page of the signed-in client's files (`protocol/retrieval.ts`):
 * read from the registry a page at a time, in the byte order of the paths,
 * so a listing of any length costs one bounded page per request and holds
 * no state on the server between pages (the next page may come from
 * another instance).
 *
 * | field of an entry | from the file row          |
 * |-------------------|----------------------------|
 * | path              | `fileName` (NFC, folders included) |
 * | size, cksum       | `size`, `cksum`            |
 * | stored at         | `time`                     |
 * | SHA-256           | `sha256`, none for files stored before it was recorded |
 *
 * Only the client's own rows are read (`Registry.clientFiles` by its id):
 * nothing in the request names another client.
 *
 * @example
 * ```ts
 * import { listPage } from "./list_files.ts";
 * import { SqliteRegistry } from "../storage/registry_sqlite.ts";
 *
 * const registry = await SqliteRegistry.open(":memory:");
 * console.log(await listPage(registry, new Uint8Array(16), { cursor: "", limit: 0 }));
 * // { files: [], more: false }
 * await registry.close();
 * ```
 *
 * @module
 */

import {
  type ClientId,
  type ListedFile,
  type ListPage,
  type ListRequest,
  MAX_LIST_PAGE_ENTRIES,
} from "../../protocol/mod.ts";
import type { FileRecord, Registry } from "../storage/registry.ts";

/** A file row as a listing entry. */
export function listedFile(row: FileRecord): ListedFile {
  return {
    path: row.fileName,
    size: row.size,
    storedAt: row.time,
    cksum: row.cksum,
    sha256: row.sha256 === null ? null : hexToBytes(row.sha256),
  };
}

/** 64 hexadecimal digits as 32 bytes. */
function hexToBytes(hex: string): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/**
 * The page of `clientId`'s files after `request.cursor`, of at most
 * `request.limit` entries (0, or more than {@linkcode MAX_LIST_PAGE_ENTRIES}:
 * that many).
 */
export async function listPage(
  registry: Registry,
  clientId: ClientId,
  request: ListRequest,
): Promise<ListPage> {
  const limit = request.limit === 0
    ? MAX_LIST_PAGE_ENTRIES
    : Math.min(request.limit, MAX_LIST_PAGE_ENTRIES);
  // One row more than the page tells whether another page follows.
  const rows = await registry.clientFiles(clientId, {
    ...(request.cursor === "" ? {} : { after: request.cursor }),
    limit: limit + 1,
  });
  return { files: rows.slice(0, limit).map(listedFile), more: rows.length > limit };
}
