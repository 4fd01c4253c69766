/**
 * TLS for the secure port, on sockets the server can always close.
 *
 * Why not `Deno.listenTls`: each socket it accepts starts its TLS handshake
 * in a runtime task that owns the socket until the handshake ends, and
 * closing the connection does not end that task. A peer that starts a
 * handshake and never finishes it (a few bytes of a ClientHello) keeps its
 * socket open after the server has closed the connection, however many times
 * it was evicted: 1,000 of them exhausted the descriptors and Deno panicked
 * (issue 17). So the secure port is a plain TCP listener, whose sockets close
 * at once, and each connection is relayed over loopback to a TLS listener
 * that only this process connects to:
 *
 * ```text
 * peer ──TCP──▶ outer socket ══ relay ══▶ inner client ──loopback──▶ inner TLS listener ──▶ TlsConn
 *      (counted in the connection slots)   (this process)             (127.0.0.1, port 0)   (read by the session)
 * ```
 *
 * How one connection is relayed and closed: `secure_conn.ts`.
 *
 * The runtime lets go of inner sockets on its own schedule, which under a
 * flood lags behind the closing. So the secure port accepts only while fewer
 * than `--max-connections` plus {@linkcode RELEASE_SLACK} connections are
 * unreleased ({@linkcode TlsTerminator.room}): a hard bound on its sockets,
 * three per connection (outer, inner client, inner server side), which
 * `fd_budget.ts` counts. A connection to the inner port that this process
 * did not open (another local program) is closed when accepted.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { closeQuietly } from "./close_quietly.ts";
import { RelayBufferPool } from "./relay_buffers.ts";
import { SecureConn } from "./secure_conn.ts";
import type { Listener, NetConn, TcpListener, TlsCredentials } from "./listen.ts";

export {
  CLOSE_LINGER_MS,
  RELAY_BUFFER_SIZE,
  RELEASE_TIMEOUT_MS,
  SecureConn,
} from "./secure_conn.ts";

/** Connections being released that may exist beyond `--max-connections` open ones. */
export const RELEASE_SLACK = 32;

/** How long a connection to the inner TLS port waits to be claimed by its relay. */
const UNCLAIMED_MS = 1_000;

/** Most abandoned inner ports remembered (each is forgotten when its connection is accepted). */
const MAX_ABANDONED = 4096;

/** How long after a failed accept the inner listener tries again. */
const ACCEPT_RETRY_MS = 100;

const logger = getLogger(["server", "tls"]);

/**
 * The inner TLS listener, the table of connections waiting for their inner
 * side, and the count of unreleased connections. One per secure port;
 * {@linkcode TlsTerminator.close} stops it.
 */
export class TlsTerminator {
  readonly #inner: Deno.TlsListener;
  readonly #innerPort: number;
  readonly #handshakeTimeoutMs: number;
  readonly #maxUnreleased: number;
  /** Inner client's local port → who waits for the TlsConn accepted from it. */
  readonly #waiting = new Map<
    number,
    { resolve: (conn: Deno.TlsConn) => void; reject: (error: Error) => void }
  >();
  /**
   * Inner client's local port → a TlsConn accepted before its relay asked
   * for it (the accept can win the race against `Deno.connect` resolving);
   * closed if nobody claims it within {@linkcode UNCLAIMED_MS}.
   */
  readonly #unclaimed = new Map<
    number,
    { conn: Deno.TlsConn; timer: ReturnType<typeof setTimeout> }
  >();
  /** Inner client ports given up before their TlsConn was accepted: closed when it is. */
  readonly #abandoned = new Set<number>();
  #unreleased = 0;
  readonly #roomWaiters: (() => void)[] = [];
  #closed = false;
  readonly #accepting: Promise<void>;
  /** @internal The large buffers the relays borrow while bytes keep coming. */
  readonly relayBuffers: RelayBufferPool = new RelayBufferPool();

  /**
   * Listens with TLS on 127.0.0.1, on a free port.
   *
   * @param handshakeTimeoutMs How long a peer has to finish its handshake.
   * @param maxConnections The server's `--max-connections` (see {@linkcode TlsTerminator.room}).
   */
  constructor(tls: TlsCredentials, handshakeTimeoutMs: number, maxConnections: number) {
    this.#inner = Deno.listenTls({ hostname: "127.0.0.1", port: 0, ...tls });
    this.#innerPort = (this.#inner.addr as Deno.NetAddr).port;
    this.#handshakeTimeoutMs = handshakeTimeoutMs;
    this.#maxUnreleased = maxConnections + RELEASE_SLACK;
    this.#accepting = this.#acceptLoop();
  }

  /** Relays `outer` (a TCP connection just accepted) through TLS; the handshake starts now. */
  secure(outer: Deno.Conn): SecureConn {
    this.#unreleased++;
    return new SecureConn(outer, this);
  }

  /**
   * Resolves when fewer than `--max-connections` plus {@linkcode RELEASE_SLACK}
   * connections are unreleased (open, or closed and their inner socket not
   * yet let go): the secure port accepts only then.
   */
  room(): Promise<void> {
    if (this.#closed || this.#unreleased < this.#maxUnreleased) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  /** Connections not yet released. */
  get unreleased(): number {
    return this.#unreleased;
  }

  /** Stops the inner listener; connections already relayed go on until closed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const wake of this.#roomWaiters.splice(0)) wake(); // their accept then fails
    this.#inner.close();
    await this.#accepting;
    for (const { conn, timer } of this.#unclaimed.values()) {
      clearTimeout(timer);
      closeQuietly(conn);
    }
    this.#unclaimed.clear();
  }

  /** @internal Opens the inner client and waits for its TlsConn; used by {@linkcode SecureConn}. */
  async connectInner(): Promise<{ client: Deno.TcpConn; accepted: Promise<Deno.TlsConn> }> {
    const client = await Deno.connect({ hostname: "127.0.0.1", port: this.#innerPort });
    const localPort = (client.localAddr as Deno.NetAddr).port;
    const early = this.#unclaimed.get(localPort);
    this.#unclaimed.delete(localPort);
    clearTimeout(early?.timer);
    const accepted = early !== undefined
      ? Promise.resolve(early.conn)
      : new Promise<Deno.TlsConn>((resolve, reject) =>
        this.#waiting.set(localPort, { resolve, reject })
      );
    return { client, accepted };
  }

  /**
   * @internal Gives up the inner side of `client` (it is being closed): if
   * it is accepted later, it is closed at once.
   */
  forget(client: Deno.TcpConn): void {
    const port = (client.localAddr as Deno.NetAddr).port;
    const waiting = this.#waiting.get(port);
    if (waiting === undefined) return;
    this.#waiting.delete(port);
    waiting.reject(new Deno.errors.BadResource("Cannot finish the TLS handshake: it was closed"));
    this.#abandoned.add(port);
    if (this.#abandoned.size > MAX_ABANDONED) {
      this.#abandoned.delete(this.#abandoned.values().next().value!);
    }
  }

  /** @internal A connection's sockets are all gone. */
  released(): void {
    this.#unreleased--;
    while (this.#roomWaiters.length > 0 && this.#unreleased < this.#maxUnreleased) {
      this.#roomWaiters.shift()!();
    }
  }

  /** @internal The handshake deadline. */
  get handshakeTimeoutMs(): number {
    return this.#handshakeTimeoutMs;
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.TlsConn;
      try {
        conn = await this.#inner.accept();
      } catch (error) {
        if (this.#closed || error instanceof Deno.errors.BadResource) return;
        logger.warn("Cannot accept on the inner TLS port: {error}", { error });
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      this.#deliver(conn);
    }
  }

  /** Hands an inner TlsConn to the relay that opened it. */
  #deliver(conn: Deno.TlsConn): void {
    const port = (conn.remoteAddr as Deno.NetAddr).port;
    const waiting = this.#waiting.get(port);
    this.#waiting.delete(port);
    if (waiting !== undefined) {
      waiting.resolve(conn);
      return;
    }
    if (this.#abandoned.delete(port)) {
      closeQuietly(conn);
      return;
    }
    // Its relay may not know its port yet; else it is not one of ours
    // (another local program).
    const timer = setTimeout(() => {
      this.#unclaimed.delete(port);
      closeQuietly(conn);
    }, UNCLAIMED_MS);
    this.#unclaimed.set(port, { conn, timer });
  }
}

/**
 * The secure port: `plain` (a TCP listener) with TLS on every connection
 * through `terminator`; closing it closes both.
 */
export class SecureListener implements Listener {
  readonly port: number;
  readonly description: string;
  readonly #plain: TcpListener;
  readonly #terminator: TlsTerminator;

  /** Wraps `plain`; this object owns both from now on. */
  constructor(plain: TcpListener, terminator: TlsTerminator) {
    this.#plain = plain;
    this.#terminator = terminator;
    this.port = plain.port;
    this.description = plain.description;
  }

  /** The next connection, its TLS handshake started (see {@linkcode SecureConn}). */
  async accept(): Promise<NetConn> {
    await this.#terminator.room();
    return this.#terminator.secure(await this.#plain.accept());
  }

  /** Stops listening, and stops the inner TLS listener. */
  close(): void {
    this.#plain.close();
    void this.#terminator.close();
  }
}
