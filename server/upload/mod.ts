/**
 * The `server/upload/` room. The upload pipeline: from the socket to a staged file, the verdict,
 * and the commit.
 *
 * | file                                                       | what it holds                                                                    |
 * | ---------------------------------------------------------- | -------------------------------------------------------------------------------- |
 * | `upload.ts`                                                | one reference upload (828 and its packets), step by step                         |
 * | `upload_content.ts`, `upload_staging.ts`, `upload_name.ts` | reading the content in batches, staging it, the stored name                      |
 * | `dialect_upload.ts`                                        | the other dialects' uploads, to the same staged file                             |
 * | `cipher_source.ts`                                         | where a dialect upload's ciphertext comes from: one request, or packet by packet |
 * | `verdict.ts`                                               | whether an upload is kept, and the cksum its 1603 carries                        |
 * | `commit.ts`                                                | admission against the client's limits, the commit on 900, recovery after a crash |
 * | `buffer_budget.ts`, `memory.ts`, `batch_buffers.ts`        | the memory every upload's batches come from, reused buffers                      |
 *
 * What it may import besides its own files ({@linkcode ROOM}, enforced by
 * `scripts/check_imports.ts`): `common/`, `protocol/`, `server/errors.ts`, `server/log/`,
 * `server/storage/`. It reads from a reader it is given and writes through the storage seams; it
 * knows no connection state (the session room calls it).
 *
 * @module
 */

/** This room's folder, and what its files may import besides the room's own. */
export const ROOM: { readonly folder: string; readonly mayImport: readonly string[] } = {
  folder: "server/upload/",
  mayImport: ["common/", "protocol/", "server/errors.ts", "server/log/", "server/storage/"],
};
