/**
 * Closing a socket that may be closed already: `closeQuietly` closes it,
 * `closeWriteQuietly` ends its write side (closing it if that fails); no
 * error comes out of either.
 *
 * @module
 */

/** Closes `conn`; one already closed is no error. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

/** Ends the write side of `conn` (closing it if that fails); no error comes out. */
export function closeWriteQuietly(conn: Deno.Conn): void {
  conn.closeWrite().catch(() => closeQuietly(conn));
}
