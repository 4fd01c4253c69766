/**
 * The `server/net/` room. Listening and the connections' limits: the ports, TLS, the slots and the
 * per-read deadlines.
 *
 * | file                  | what it holds                                                              |
 * | --------------------- | -------------------------------------------------------------------------- |
 * | `listen.ts`           | listening on IPv6 and IPv4, one listener per port                          |
 * | `tls_listener.ts`     | the secure port: TLS with the server's identity, and the discovery answer  |
 * | `tls_terminator.ts`   | TLS on sockets the server can always close: the inner TLS listener, relays |
 * | `secure_conn.ts`      | one secure connection, relayed to the inner listener, and how it closes    |
 * | `relay_buffers.ts`    | the relays' read buffers: small, or large ones borrowed while bytes flow   |
 * | `close_quietly.ts`    | closing a socket that may be closed already                                |
 * | `port_info.ts`        | `port.info`                                                                |
 * | `connection_slots.ts` | the caps on open connections and which one makes room                      |
 * | `timed_conn.ts`       | a connection whose every read and write, and every request, has a deadline |
 * | `slot_debt.ts`        | a connection's unproductive time, by which the slots choose whom to close  |
 *
 * What it may import besides its own files ({@linkcode ROOM}, enforced by
 * `scripts/check_imports.ts`): `common/`, `protocol/`, `server/errors.ts`, `server/log/`,
 * `server/identity/`. Below the session: it moves bytes and counts connections, and knows no
 * request or client state.
 *
 * @module
 */

/** This room's folder, and what its files may import besides the room's own. */
export const ROOM: { readonly folder: string; readonly mayImport: readonly string[] } = {
  folder: "server/net/",
  mayImport: ["common/", "protocol/", "server/errors.ts", "server/log/", "server/identity/"],
};
