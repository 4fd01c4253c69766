/**
 * A TCP relay that cuts the server's side of each connection after a number
 * of bytes: a download cut mid-way, with TLS passed through untouched.
 *
 * @module
 */

/**
 * A TCP relay to `target` that passes at most `limit` bytes from the server
 * to the client on each connection, then cuts it, or with `stall` holds it
 * open and silent (raise `limit` to stop cutting).
 */
export function cuttingRelay(target: number, limit: number, options: { stall?: boolean } = {}) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const state = { port: listener.addr.port, limit, close };
  const loop = (async () => {
    for await (const conn of listener) {
      const upstream = await Deno.connect({ hostname: "127.0.0.1", port: target });
      open.add(conn).add(upstream);
      const cap = state.limit;
      pipe(conn, upstream, Infinity).finally(() => closeBoth(conn, upstream));
      const toClient = pipe(upstream, conn, cap);
      if (options.stall !== true) toClient.finally(() => closeBoth(conn, upstream));
    }
  })();
  function closeBoth(a: Deno.Conn, b: Deno.Conn) {
    for (const conn of [a, b]) {
      open.delete(conn);
      try {
        conn.close();
      } catch { /* closed */ }
    }
  }
  async function close(): Promise<void> {
    listener.close();
    await loop.catch(() => {});
    for (const conn of open) {
      try {
        conn.close();
      } catch { /* closed */ }
    }
  }
  return state;
}

/** Copies `from` to `to`, at most `limit` bytes. */
async function pipe(from: Deno.Conn, to: Deno.Conn, limit: number): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  let passed = 0;
  try {
    while (passed < limit) {
      const n = await from.read(buffer.subarray(0, Math.min(buffer.length, limit - passed)));
      if (n === null) return;
      let written = 0;
      while (written < n) written += await to.write(buffer.subarray(written, n));
      passed += n;
    }
  } catch {
    // Either side closed.
  }
}
