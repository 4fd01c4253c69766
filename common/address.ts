/**
 * How both sides write a network address in messages, logs and keys:
 * `host:port`, an IPv6 address in brackets, an IPv4-mapped IPv6 address
 * (`::ffff:1.2.3.4`, what a dual-stack listener reports for an IPv4 peer) as
 * the IPv4 address it stands for.
 *
 * | host              | port | written            |
 * |-------------------|------|--------------------|
 * | `127.0.0.1`       | 1256 | `127.0.0.1:1256`   |
 * | `example.org`     | 1256 | `example.org:1256` |
 * | `::1`             | 1256 | `[::1]:1256`       |
 * | `::ffff:10.0.0.1` | 80   | `10.0.0.1:80`      |
 *
 * @module
 */

/**
 * `host:port`, with brackets around an IPv6 address and an IPv4-mapped
 * address written as its IPv4 address (see the module table).
 *
 * @example
 * ```ts
 * import { formatAddress } from "./address.ts";
 * console.assert(formatAddress("127.0.0.1", 1256) === "127.0.0.1:1256");
 * console.assert(formatAddress("::1", 1256) === "[::1]:1256");
 * console.assert(formatAddress("::ffff:10.0.0.1", 80) === "10.0.0.1:80");
 * ```
 */
export function formatAddress(hostname: string, port: number): string {
  const host = plainHost(hostname);
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * A host name without the IPv4-mapped prefix: `::ffff:1.2.3.4` is `1.2.3.4`;
 * anything else is returned as it is.
 *
 * @example
 * ```ts
 * import { plainHost } from "./address.ts";
 * console.assert(plainHost("::ffff:1.2.3.4") === "1.2.3.4");
 * console.assert(plainHost("::1") === "::1");
 * ```
 */
export function plainHost(hostname: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(hostname);
  return mapped === null ? hostname : mapped[1]!;
}
