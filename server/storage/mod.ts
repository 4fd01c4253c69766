/**
 * The `server/storage/` room. Where clients and files are kept: the registry and file store seams,
 * their backends, and choosing them.
 *
 * | file                                                                                     | what it holds                                                  |
 * | ---------------------------------------------------------------------------------------- | -------------------------------------------------------------- |
 * | `registry.ts`, `file_store.ts`                                                           | the two seams every backend implements                         |
 * | `registry_sqlite.ts`, `registry_postgres.ts`                                             | the registries: SQLite, PostgreSQL                             |
 * | `sqlite_schema.ts`, `sqlite_database.ts`, `sqlite_rows.ts`, `sqlite_commits.ts`, `sqlite_partials.ts` | the SQLite registry's schema, file, rows, commits, partial uploads |
 * | `postgres_schema.ts`, `postgres_driver.ts`, `postgres_rows.ts`, `postgres_liveness.ts`, `postgres_commits.ts`, `postgres_partials.ts` | the PostgreSQL registry's schema, driver options, rows, live instances, commits, partial uploads |
 * | `file_store_local.ts`, `file_store_s3.ts`, `s3_client.ts`                                | the file stores: a local folder, S3                            |
 * | `local_folders.ts`, `local_staged_file.ts`, `local_file_reader.ts`                       | the local store's folders and modes, upload, read              |
 * | `s3_staged_file.ts`, `s3_object_reader.ts`, `s3_bucket.ts`                               | the S3 store's upload, read, and the S3 calls they share       |
 * | `storage.ts`, `storage_selection.ts`                                                     | a registry and a store opened together; `--registry`/`--store` |
 * | `instance_liveness.ts`, `identity_record_postgres.ts`, `stored_path.ts`, `redact_url.ts` | what the backends share                                        |
 *
 * What it may import besides its own files ({@linkcode ROOM}, enforced by
 * `scripts/check_imports.ts`): `common/`, `protocol/`, `server/errors.ts`, `server/log/`,
 * `server/identity/`. It keeps what it is given and knows no upload, connection or session: the
 * upload room writes through its seams, not the other way round. It may record the deployment's
 * identity.
 *
 * @module
 */

/** This room's folder, and what its files may import besides the room's own. */
export const ROOM: { readonly folder: string; readonly mayImport: readonly string[] } = {
  folder: "server/storage/",
  mayImport: ["common/", "protocol/", "server/errors.ts", "server/log/", "server/identity/"],
};
