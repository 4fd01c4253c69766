/**
 * Listening on TCP, on IPv6 and IPv4 at once by default, and addresses as an
 * operator reads them: IPv6 in brackets (`[::1]:1256`), IPv4-mapped IPv6
 * (`::ffff:127.0.0.1`) as plain IPv4.
 *
 * | `host`          | listens on                                                   |
 * |-----------------|--------------------------------------------------------------|
 * | none (default)  | `[::]`, which takes IPv4 too where the system allows (dual stack); else also `0.0.0.0`; without IPv6, `0.0.0.0` only, with a note |
 * | an address      | that address only                                            |
 *
 * Both ports listen on plain TCP; the secure port adds TLS on top
 * (`tls_terminator.ts`), so every socket accepted can be closed at once.
 *
 * @module
 */

import { formatAddress } from "../../common/address.ts";
import { errorMessage } from "../../common/error_message.ts";
import { ListenError, PortInUseError } from "../errors.ts";

/** What a session needs of a connection: the subset of `Deno.Conn` it uses. */
export interface NetConn {
  /** The peer's address. */
  readonly remoteAddr: Deno.Addr;
  /** Reads up to `p.length` bytes; `null` at the end of the stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes some of `p`; resolves to how many bytes were written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes the connection: its socket is released now (see `tls_terminator.ts` for TLS). */
  close(): void;
}

/** Accepts connections: one listener, or several on the same port. */
export interface Listener {
  /** The port bound. */
  readonly port: number;
  /** How the addresses are printed: `[::]:1256 (IPv6 and IPv4)`. */
  readonly description: string;
  /** The next connection, from whichever address (TCP, or TLS for the secure port). */
  accept(): Promise<NetConn>;
  /** Stops listening; pending {@linkcode Listener.accept} calls reject. */
  close(): void;
}

/** A {@linkcode Listener} of plain TCP connections. */
export interface TcpListener extends Listener {
  /** The next TCP connection, from whichever address. */
  accept(): Promise<Deno.Conn>;
}

/** What {@linkcode listen} did, with a note when it fell back to IPv4 only. */
export interface Listening<L extends Listener = Listener> {
  /** The listener. */
  listener: L;
  /** Why IPv6 is not served, when it is not although no host was given. */
  note?: string;
}

/** A certificate and key in PEM: the secure port listens with TLS. */
export interface TlsCredentials {
  /** The certificate chain, PEM. */
  cert: string;
  /** The private key, PEM. */
  key: string;
}

/**
 * Listens with TCP on `host`, or on both IPv6 and IPv4 when `host` is
 * undefined (see the module table).
 *
 * @throws {PortInUseError} when the port is taken.
 * @throws {ListenError} when the address cannot be listened on.
 */
export function listen(host: string | undefined, port: number): Listening<TcpListener> {
  const open = (hostname: string, port: number): Deno.Listener =>
    Deno.listen({ hostname, port, transport: "tcp" });
  const listenOn = (hostname: string, port: number) => listenOnly(open, hostname, port);
  if (host !== undefined) {
    const listener = listenOn(host, port);
    return {
      listener: new Listeners(
        [listener],
        formatAddress(host, (listener.addr as Deno.NetAddr).port),
      ),
    };
  }
  let v6: Deno.Listener;
  try {
    v6 = open("::", port);
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) throw portInUse("::", port, error);
    const v4 = listenOn("0.0.0.0", port);
    return {
      listener: new Listeners([v4], formatAddress("0.0.0.0", (v4.addr as Deno.NetAddr).port)),
      note: `IPv6 is not available (${errorMessage(error)}): listening on IPv4 only`,
    };
  }
  const bound = (v6.addr as Deno.NetAddr).port;
  try {
    const v4 = open("0.0.0.0", bound);
    return {
      listener: new Listeners(
        [v6, v4],
        `${formatAddress("::", bound)} and ${formatAddress("0.0.0.0", bound)}`,
      ),
    };
  } catch (error) {
    // Dual stack: the IPv6 socket already takes IPv4 connections on this port.
    if (error instanceof Deno.errors.AddrInUse) {
      return { listener: new Listeners([v6], `${formatAddress("::", bound)} (IPv6 and IPv4)`) };
    }
    v6.close();
    throw new ListenError(formatAddress("0.0.0.0", bound), errorMessage(error), { cause: error });
  }
}

function listenOnly(
  open: (hostname: string, port: number) => Deno.Listener,
  hostname: string,
  port: number,
): Deno.Listener {
  try {
    return open(hostname, port);
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) throw portInUse(hostname, port, error);
    throw new ListenError(formatAddress(hostname, port), errorMessage(error), { cause: error });
  }
}

function portInUse(hostname: string, port: number, cause: unknown): PortInUseError {
  return new PortInUseError(formatAddress(hostname, port), port, { cause });
}

type Accepted = { index: number; conn: Deno.Conn } | { index: number; error: unknown };

/** One or more listeners on the same port, accepted from as one. */
class Listeners implements TcpListener {
  readonly port: number;
  readonly description: string;
  #listeners: Deno.Listener[];
  /** Each listener's accept in flight, so no connection is lost between calls. */
  #pending: (Promise<Accepted> | undefined)[];

  constructor(listeners: Deno.Listener[], description: string) {
    this.#listeners = listeners;
    this.#pending = listeners.map(() => undefined);
    this.port = (listeners[0]!.addr as Deno.NetAddr).port;
    this.description = description;
  }

  async accept(): Promise<Deno.Conn> {
    if (this.#listeners.length === 1) return await this.#listeners[0]!.accept();
    const pending = this.#listeners.map((listener, index) =>
      this.#pending[index] ??= listener.accept().then(
        (conn) => ({ index, conn }),
        (error) => ({ index, error }),
      )
    );
    const accepted = await Promise.race(pending);
    this.#pending[accepted.index] = undefined;
    if ("error" in accepted) throw accepted.error;
    return accepted.conn;
  }

  close(): void {
    for (const listener of this.#listeners) listener.close();
    // A connection accepted after the last accept() call has nobody to serve it.
    for (const pending of this.#pending) {
      pending?.then((accepted) => "conn" in accepted && accepted.conn.close());
    }
  }
}
