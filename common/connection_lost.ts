/**
 * Which errors mean "the network failed", by error class, never by message
 * text. Both sides use these, so the client and the server agree on what a
 * lost connection is.
 *
 * | class (`Deno.errors.*`)                                          | {@linkcode isConnectionLost} | {@linkcode isNetworkFailure} |
 * |------------------------------------------------------------------|------------------|------------------|
 * | `ConnectionReset`, `ConnectionAborted`, `BrokenPipe`, `NotConnected` | yes            | yes              |
 * | `UnexpectedEof` (the peer closed mid-frame)                      | yes              | yes              |
 * | `TimedOut` (also from `withDeadline`)                            | yes              | yes              |
 * | `BadResource`, `Interrupted` (closed under a pending read/write) | yes              | yes              |
 * | `ConnectionRefused`, `AddrNotAvailable`, `NetworkUnreachable`    | no               | yes              |
 *
 * `AddrInUse` is a listening problem, never a connect failure. A host name
 * that does not resolve makes `Deno.connect` throw a plain `Error` (no class
 * of its own): the caller that called `Deno.connect` knows where it came from
 * and classifies it there, not here.
 *
 * @module
 */

/**
 * Whether `error` says an open connection was lost: reset, closed by the
 * peer mid-frame, timed out, or closed under a pending read or write.
 *
 * @example
 * ```ts
 * import { isConnectionLost } from "./connection_lost.ts";
 *
 * console.log(isConnectionLost(new Deno.errors.ConnectionReset("reset"))); // true
 * console.log(isConnectionLost(new TypeError("a bug"))); // false
 * ```
 */
export function isConnectionLost(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.TimedOut ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted;
}

/**
 * Whether `error` says a connection could not be made or was lost: refused,
 * no route, an address that cannot be used, or anything
 * {@linkcode isConnectionLost} accepts.
 *
 * @example
 * ```ts
 * import { isNetworkFailure } from "./connection_lost.ts";
 *
 * console.log(isNetworkFailure(new Deno.errors.ConnectionRefused("refused"))); // true
 * ```
 */
export function isNetworkFailure(error: unknown): boolean {
  return isConnectionLost(error) ||
    error instanceof Deno.errors.ConnectionRefused ||
    error instanceof Deno.errors.AddrNotAvailable ||
    error instanceof Deno.errors.NetworkUnreachable;
}
