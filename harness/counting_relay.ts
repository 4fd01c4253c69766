/**
 * A TCP relay on 127.0.0.1 that counts the bytes a client sends through it
 * and can cut the connection after a budget of them: for tests that cut an
 * upload at a chosen point, and measure how much a rerun sends (bytes, not
 * time). TLS passes through it untouched.
 *
 * @module
 */

import { closeQuietly, copyBytes, relayServer } from "./relay.ts";

/** A running relay. */
export interface CountingRelay {
  /** Its port. */
  readonly port: number;
  /** Bytes clients sent through it since the last {@linkcode CountingRelay.reset}. */
  readonly sent: number;
  /** Connections accepted. */
  readonly connections: number;
  /**
   * Cuts every connection once this many client bytes (counted since the
   * last reset) went through; `undefined`: never.
   */
  budget: number | undefined;
  /** Zeroes the count. */
  reset(): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** Starts a relay to 127.0.0.1:`target`. */
export function countingRelay(target: number): CountingRelay {
  let sent = 0;
  const meter = {
    left: () => relay.budget === undefined ? Infinity : Math.floor(relay.budget) - sent,
    copied: (n: number) => sent += n,
  };
  const server = relayServer(async (conn) => {
    const upstream = await Deno.connect({ hostname: "127.0.0.1", port: target });
    try {
      await Promise.race([copyBytes(conn, upstream, meter), copyBytes(upstream, conn)]);
    } finally {
      closeQuietly(upstream);
    }
  });
  const relay: CountingRelay = {
    port: server.port,
    get sent() {
      return sent;
    },
    get connections() {
      return server.connections;
    },
    budget: undefined,
    reset() {
      sent = 0;
    },
    close: () => server.close(),
  };
  return relay;
}
