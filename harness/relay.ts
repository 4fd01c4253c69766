/**
 * The TCP relay on 127.0.0.1 that the tests' and benchmarks' relays are made
 * of: it hands each accepted connection to a handler, and on close stops
 * listening, closes what is still open and waits for every handler. The
 * relays that count, cut or stall a connection, or answer like the reference
 * server, differ only in their handler.
 *
 * | export                | what it is                                             |
 * | --------------------- | ------------------------------------------------------ |
 * | {@linkcode relayServer} | the listener, its connections and its close            |
 * | {@linkcode copyBytes}   | one direction copied, as far as a {@linkcode ByteMeter} lets it |
 * | {@linkcode pipeBoth}    | both directions until either ends, then both closed    |
 * | {@linkcode closeQuietly} | a close that does not mind an already closed connection |
 *
 * @example
 * ```ts ignore
 * import { pipeBoth, relayServer } from "./relay.ts";
 * const relay = relayServer(async (conn) => {
 *   await pipeBoth(conn, await Deno.connect({ hostname: "127.0.0.1", port: 8080 }));
 * });
 * console.log(relay.port, relay.connections);
 * await relay.close();
 * ```
 *
 * @module
 */

/** A running relay. */
export interface RelayServer {
  /** The port it listens on. */
  readonly port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Stops listening, closes every accepted connection, and waits for the handlers. */
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1:`port` (any free one by default) and hands every
 * accepted connection to `handle`; the connection is closed when `handle`
 * settles (its errors are a side that closed, and are ignored).
 */
export function relayServer(
  handle: (conn: Deno.TcpConn) => Promise<void>,
  port = 0,
): RelayServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const running: Promise<void>[] = [];
  const open = new Set<Deno.Conn>();
  let connections = 0;
  const loop = (async () => {
    for await (const conn of listener) {
      connections++;
      open.add(conn);
      running.push(
        handle(conn).catch(() => {}).finally(() => {
          open.delete(conn);
          closeQuietly(conn);
        }),
      );
    }
  })();
  let closing: Promise<void> | undefined;
  return {
    port: listener.addr.port,
    get connections() {
      return connections;
    },
    close() {
      closing ??= (async () => {
        listener.close();
        await loop.catch(() => {});
        for (const conn of open) closeQuietly(conn);
        await Promise.all(running);
      })();
      return closing;
    },
  };
}

/** Closes `conn`, which may be closed already. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** What one direction of a relay may still pass, and the count of what it passed. */
export interface ByteMeter {
  /** How many more bytes may pass now (asked before each read; 0 ends the copy). */
  left(): number;
  /** Called with the size of each chunk once it is written. */
  copied(n: number): void;
}

/** A meter that lets `limit` bytes through. */
export function byteLimit(limit: number): ByteMeter {
  let passed = 0;
  return { left: () => limit - passed, copied: (n) => passed += n };
}

/**
 * Copies `from` to `to` until `from` ends, either side fails, or `meter`
 * has nothing left. Never rejects: a side that closed ends the copy.
 */
export async function copyBytes(
  from: Deno.Conn,
  to: Deno.Conn,
  meter: ByteMeter = byteLimit(Infinity),
): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (let left = meter.left(); left > 0; left = meter.left()) {
      const n = await from.read(buffer.subarray(0, Math.min(buffer.length, left)));
      if (n === null) return;
      let written = 0;
      while (written < n) written += await to.write(buffer.subarray(written, n));
      meter.copied(n);
    }
  } catch {
    // Either side closed.
  }
}

/** Copies both ways between `a` and `b` until either side ends, then closes both. */
export async function pipeBoth(a: Deno.Conn, b: Deno.Conn): Promise<void> {
  await Promise.race([copyBytes(a, b), copyBytes(b, a)]);
  closeQuietly(a);
  closeQuietly(b);
}
