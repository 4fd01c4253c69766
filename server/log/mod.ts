/**
 * The `server/log/` room. The server's log: where lines go, and which connection and client each is
 * about.
 *
 * | file             | what it holds                                                               |
 * | ---------------- | --------------------------------------------------------------------------- |
 * | `logging.ts`     | the sinks (stderr and `server.log`), levels, escaping of control characters |
 * | `log_context.ts` | the per-connection logger and its `connection 3 (Alice):` prefix            |
 *
 * What it may import besides its own files ({@linkcode ROOM}, enforced by
 * `scripts/check_imports.ts`): `common/`, `protocol/`. Below every other room: anything may log, so
 * the log imports no room.
 *
 * @module
 */

/** This room's folder, and what its files may import besides the room's own. */
export const ROOM: { readonly folder: string; readonly mayImport: readonly string[] } = {
  folder: "server/log/",
  mayImport: ["common/", "protocol/"],
};
