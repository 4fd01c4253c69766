/**
 * A TCP relay on 127.0.0.1 that counts the bytes a client sends through it
 * and can cut the connection after a budget of them: for tests that cut an
 * upload at a chosen point, and measure how much a rerun sends (bytes, not
 * time). TLS passes through it untouched.
 *
 * @module
 */

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

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** Starts a relay to 127.0.0.1:`target`. */
export function countingRelay(target: number): CountingRelay {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const running: Promise<void>[] = [];
  let sent = 0;
  let connections = 0;
  let closing: Promise<void> | undefined;
  const relay: CountingRelay = {
    port: (listener.addr as Deno.NetAddr).port,
    get sent() {
      return sent;
    },
    get connections() {
      return connections;
    },
    budget: undefined,
    reset() {
      sent = 0;
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
  const pipe = async (from: Deno.Conn, to: Deno.Conn, counted: boolean) => {
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      let n = await from.read(buffer);
      if (n === null) break;
      if (counted && relay.budget !== undefined) {
        n = Math.max(0, Math.min(n, Math.floor(relay.budget) - sent));
      }
      if (counted) sent += n;
      let written = 0;
      while (written < n) written += await to.write(buffer.subarray(written, n));
      if (counted && relay.budget !== undefined && sent >= Math.floor(relay.budget)) break;
    }
  };
  const loop = (async () => {
    for await (const conn of listener) {
      connections++;
      open.add(conn);
      running.push((async () => {
        let upstream: Deno.Conn | undefined;
        try {
          upstream = await Deno.connect({ hostname: "127.0.0.1", port: target });
          open.add(upstream);
          await Promise.race([pipe(conn, upstream, true), pipe(upstream, conn, false)]);
        } catch {
          // A side closed: the relay closes both.
        } finally {
          closeQuietly(conn);
          open.delete(conn);
          if (upstream !== undefined) {
            closeQuietly(upstream);
            open.delete(upstream);
          }
        }
      })());
    }
  })();
  return relay;
}
