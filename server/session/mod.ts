/**
 * The `server/session/` room. One connection's state and request handling.
 *
 * | file                            | what it holds                                                                |
 * | ------------------------------- | ---------------------------------------------------------------------------- |
 * | `connection.ts`                 | `ServerConnection`: the loop that reads each request header and serves it    |
 * | `connection_options.ts`         | what a connection is given: who it is, what it shares, its deadlines, caps   |
 * | `upload_reservation.ts`         | a connection's reservation of an upload's size against its client's limits   |
 * | `connection_state.ts`           | the connection's state: who is on it, what it is doing, whether it is ending |
 * | `request_table.ts`              | the request table and its one dispatch; how to add a request                 |
 * | `reference_dialect.ts`          | the reference dialect's table, per port                                      |
 * | `requests/`                     | one handler per request (825-828, 900-902, 850, 851)                         |
 * | `dialects/`                     | the other dialects' tables, and each connection's choice among them          |
 * | `scope.ts`                      | what a handler sees of its connection                                        |
 * | `end_reason.ts`, `deadlines.ts` | why a connection ends; every deadline it lives under                         |
 * | `tls_proof.ts`, `short_text.ts` | the key proof owed on the secure port; 1607 texts                            |
 *
 * What it may import besides its own files ({@linkcode ROOM}, enforced by
 * `scripts/check_imports.ts`): `common/`, `protocol/`, `server/errors.ts`, `server/log/`,
 * `server/net/`, `server/upload/`, `server/storage/`, `server/retrieval/`. It serves one connection
 * with the pieces below it (a timed connection, the upload pipeline, storage); it never imports the
 * composition (`server/server.ts`) or the command line.
 *
 * @module
 */

/** This room's folder, and what its files may import besides the room's own. */
export const ROOM: { readonly folder: string; readonly mayImport: readonly string[] } = {
  folder: "server/session/",
  mayImport: [
    "common/",
    "protocol/",
    "server/errors.ts",
    "server/log/",
    "server/net/",
    "server/upload/",
    "server/storage/",
    "server/retrieval/",
  ],
};
