/**
 * The `server/observe/` room. What an instance shows an operator besides its log: health and
 * metrics over HTTP.
 *
 * | file               | what it holds                                         |
 * | ------------------ | ----------------------------------------------------- |
 * | `http_listener.ts` | `--http`: `GET /healthz` and `GET /metrics`           |
 * | `metrics.ts`       | the metrics, and the storage wrapper that counts them |
 *
 * What it may import besides its own files ({@linkcode ROOM}, enforced by
 * `scripts/check_imports.ts`): `common/`, `protocol/`, `server/errors.ts`, `server/log/`,
 * `server/storage/`. It watches storage through its seams and reads connection counts through a
 * hook it is given; it never reaches into a connection. No room imports it: only `server/cli/`
 * composes it.
 *
 * @module
 */

/** This room's folder, and what its files may import besides the room's own. */
export const ROOM: { readonly folder: string; readonly mayImport: readonly string[] } = {
  folder: "server/observe/",
  mayImport: ["common/", "protocol/", "server/errors.ts", "server/log/", "server/storage/"],
};
