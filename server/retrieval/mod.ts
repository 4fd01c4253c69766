/**
 * The `server/retrieval/` room. Reading stored files back to their owner: the listing (860) and
 * the download (861), as the session's handlers call them.
 *
 * | file             | what it holds                                                    |
 * | ---------------- | ---------------------------------------------------------------- |
 * | `list_files.ts`  | one page of the signed-in client's files, from the registry      |
 * | `stream_file.ts` | one stored file, from an agreed offset, in bounded 1662 frames    |
 *
 * What it may import besides its own files ({@linkcode ROOM}, enforced by
 * `scripts/check_imports.ts`): `common/`, `protocol/`, `server/errors.ts`, `server/log/`,
 * `server/storage/`. It reads through the storage seams and knows no connection state: the
 * handlers in `server/session/requests/` check who is signed in and call it.
 *
 * @module
 */

/** This room's folder, and what its files may import besides the room's own. */
export const ROOM: { readonly folder: string; readonly mayImport: readonly string[] } = {
  folder: "server/retrieval/",
  mayImport: ["common/", "protocol/", "server/errors.ts", "server/log/", "server/storage/"],
};
