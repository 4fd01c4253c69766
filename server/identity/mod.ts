/**
 * The `server/identity/` room. The secure mode's identity: the server's key and certificate, one
 * per deployment.
 *
 * | file                     | what it holds                                                                         |
 * | ------------------------ | ------------------------------------------------------------------------------------- |
 * | `tls_identity.ts`        | the Ed25519 key and self-signed certificate in `server_identity.pem`, its fingerprint |
 * | `deployment_identity.ts` | one identity shared by every instance of a deployment, kept in the registry           |
 *
 * What it may import besides its own files ({@linkcode ROOM}, enforced by
 * `scripts/check_imports.ts`): `common/`, `protocol/`, `server/errors.ts`, `server/log/`. It knows
 * nothing of ports or connections: the net room presents it, storage records it.
 *
 * @module
 */

/** This room's folder, and what its files may import besides the room's own. */
export const ROOM: { readonly folder: string; readonly mayImport: readonly string[] } = {
  folder: "server/identity/",
  mayImport: ["common/", "protocol/", "server/errors.ts", "server/log/"],
};
