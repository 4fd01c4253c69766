/**
 * A TCP relay that cuts the server's side of each connection after a number
 * of bytes: a download cut mid-way, with TLS passed through untouched.
 *
 * @module
 */

import { byteLimit, closeQuietly, copyBytes, relayServer } from "../../harness/relay.ts";

/** A running cutting relay. */
export interface CuttingRelay {
  /** Its port. */
  readonly port: number;
  /** Bytes each new connection passes from the server (raise to stop cutting). */
  limit: number;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/**
 * A TCP relay to `target` that passes at most `limit` bytes from the server
 * to the client on each connection, then cuts it, or with `stall` holds it
 * open and silent (raise `limit` to stop cutting).
 */
export function cuttingRelay(
  target: number,
  limit: number,
  options: { stall?: boolean } = {},
): CuttingRelay {
  const server = relayServer(async (conn) => {
    const upstream = await Deno.connect({ hostname: "127.0.0.1", port: target });
    try {
      const toServer = copyBytes(conn, upstream);
      const toClient = copyBytes(upstream, conn, byteLimit(relay.limit));
      await (options.stall === true ? toServer : Promise.race([toServer, toClient]));
    } finally {
      closeQuietly(upstream);
    }
  });
  const relay: CuttingRelay = { port: server.port, limit, close: () => server.close() };
  return relay;
}
