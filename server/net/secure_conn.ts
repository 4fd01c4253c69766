/**
 * One connection on the secure port ({@linkcode SecureConn}): the outer
 * socket, relayed over loopback to the inner TLS listener of
 * `tls_terminator.ts`; reads and writes go through the inner `TlsConn` once
 * the handshake is done.
 *
 * | event                                   | what happens                                     |
 * |-----------------------------------------|--------------------------------------------------|
 * | accepted                                | the relay and the handshake start                |
 * | handshake not done in `handshakeTimeoutMs` | closed (below); reads fail with `TimedOut`    |
 * | {@linkcode SecureConn.close} before the handshake is done (eviction, a deadline) | the outer socket is closed at once; the inner client's write side too, so the handshake task sees the end of its stream and lets its socket go |
 * | {@linkcode SecureConn.close} after it   | the TlsConn is closed, and its last bytes (the last answer, close_notify) relayed to the peer for up to {@linkcode CLOSE_LINGER_MS} |
 * | the inner client reads the end          | the runtime has let the inner socket go: the inner client is closed, the connection released |
 * | the peer closes its side                | the inner client's write side is closed (TLS sees the end) |
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { withDeadline } from "../../common/deadline.ts";
import { closeQuietly, closeWriteQuietly } from "./close_quietly.ts";
import type { NetConn } from "./listen.ts";
import { RelayBuffer, SMALL_RELAY_BUFFER_SIZE } from "./relay_buffers.ts";
import type { TlsTerminator } from "./tls_terminator.ts";

/**
 * Bytes each direction of a relay reads at a time while the flow is slow:
 * one TLS record and its overhead (a fast flow borrows larger buffers, see
 * `relay_buffers.ts`).
 */
export const RELAY_BUFFER_SIZE = SMALL_RELAY_BUFFER_SIZE;

/** How long a closed secure connection may take to pass its last bytes on to the peer. */
export const CLOSE_LINGER_MS = 1_000;

/** How long a closed connection waits for the runtime to let its inner socket go. */
export const RELEASE_TIMEOUT_MS = 10_000;

const logger = getLogger(["server", "tls"]);

/**
 * One secure connection: the outer socket, relayed to the inner TLS
 * listener; reads and writes go through the inner `TlsConn` once the
 * handshake is done. See the module table for how it closes.
 */
export class SecureConn implements NetConn {
  readonly remoteAddr: Deno.Addr;
  readonly #outer: Deno.Conn;
  readonly #terminator: TlsTerminator;
  readonly #ready: Promise<Deno.TlsConn>;
  #client: Deno.TcpConn | undefined;
  #tls: Deno.TlsConn | undefined;
  #handshakeDone = false;
  /**
   * Where the closing stands: `open`; `lingering` (closed, the TlsConn's
   * last bytes still passing to the peer over the open outer socket);
   * `closing` (the outer socket closed, the inner socket not yet let go);
   * `released` (every socket gone).
   */
  #lifecycle: "open" | "lingering" | "closing" | "released" = "open";
  #releaseTimer: ReturnType<typeof setTimeout> | undefined;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;

  /** Use {@linkcode TlsTerminator.secure}. */
  constructor(outer: Deno.Conn, terminator: TlsTerminator) {
    this.#outer = outer;
    this.remoteAddr = outer.remoteAddr;
    this.#terminator = terminator;
    this.#ready = withDeadline(this.#open(), terminator.handshakeTimeoutMs, {
      onExpire: () => this.close(),
      message: `Cannot finish the TLS handshake: not done within ${
        terminator.handshakeTimeoutMs / 1000
      } s`,
    });
    this.#ready.catch(() => this.close()); // a failed handshake closes everything
  }

  /** Reads decrypted bytes; waits for the handshake first. */
  async read(p: Uint8Array): Promise<number | null> {
    return await (await this.#ready).read(p);
  }

  /** Writes bytes, encrypted; waits for the handshake first. */
  async write(p: Uint8Array): Promise<number> {
    return await (await this.#ready).write(p);
  }

  /** Closes the connection (see the module table); idempotent. */
  close(): void {
    if (this.#lifecycle !== "open") return;
    this.#releaseTimer = setTimeout(() => this.#forceRelease(), RELEASE_TIMEOUT_MS);
    if (this.#tls !== undefined && this.#handshakeDone) {
      this.#lifecycle = "lingering";
      closeQuietly(this.#tls); // its close_notify and FIN end the inner client's reads
      this.#lingerTimer = setTimeout(() => this.#closeOuter(), CLOSE_LINGER_MS);
      return;
    }
    this.#closeOuter();
    if (this.#tls !== undefined) closeQuietly(this.#tls);
    if (this.#client === undefined) return; // #open releases it
    this.#terminator.forget(this.#client);
    closeWriteQuietly(this.#client);
  }

  /** Whether the outer socket is still open (the connection open or lingering). */
  get #outerOpen(): boolean {
    return this.#lifecycle === "open" || this.#lifecycle === "lingering";
  }

  #closeOuter(): void {
    if (!this.#outerOpen) return;
    this.#lifecycle = "closing";
    closeQuietly(this.#outer);
  }

  /** Everything is gone: the inner client read the end of its stream (or gave up waiting). */
  #release(): void {
    if (this.#lifecycle === "released") return;
    clearTimeout(this.#releaseTimer);
    clearTimeout(this.#lingerTimer);
    this.#closeOuter();
    this.#lifecycle = "released";
    if (this.#client !== undefined) closeQuietly(this.#client);
    this.#terminator.released();
  }

  #forceRelease(): void {
    logger.warn("A closed secure connection's inner socket was not released in {seconds} s", {
      seconds: RELEASE_TIMEOUT_MS / 1000,
    });
    this.#release();
  }

  async #open(): Promise<Deno.TlsConn> {
    try {
      (this.#outer as Deno.TcpConn).setNoDelay(true);
    } catch {
      // The peer is already gone; the relay will notice.
    }
    let inner;
    try {
      inner = await this.#terminator.connectInner();
    } catch (error) {
      this.#release();
      throw error;
    }
    const { client, accepted } = inner;
    this.#client = client;
    void this.#relayToPeer(client);
    if (this.#lifecycle !== "open") {
      this.#terminator.forget(client);
      closeWriteQuietly(client);
      accepted.then(closeQuietly, () => {}); // when it was accepted already
      throw new Deno.errors.BadResource("Cannot relay the connection: it was closed");
    }
    client.setNoDelay(true);
    void this.#relayToInner(client);
    const tls = await accepted;
    this.#tls = tls;
    if (this.#lifecycle !== "open") {
      closeQuietly(tls);
      throw new Deno.errors.BadResource("Cannot finish the TLS handshake: it was closed");
    }
    await tls.handshake();
    this.#handshakeDone = true;
    return tls;
  }

  /** Peer → inner client, until the peer's end (passed on) or the outer socket closes. */
  async #relayToInner(client: Deno.TcpConn): Promise<void> {
    const relay = new RelayBuffer(this.#terminator.relayBuffers);
    try {
      for (;;) {
        const buffer = relay.buffer;
        const n = await this.#outer.read(buffer);
        if (n === null) break;
        for (let written = 0; written < n;) {
          written += await client.write(buffer.subarray(written, n));
        }
        relay.after(n);
      }
      await client.closeWrite();
    } catch {
      this.close();
    } finally {
      relay.release();
    }
  }

  /**
   * Inner client → peer, until the inner side ends: then the runtime has let
   * the inner socket go, and the connection is released. Once the outer
   * socket is closed, what still arrives is dropped.
   */
  async #relayToPeer(client: Deno.TcpConn): Promise<void> {
    const relay = new RelayBuffer(this.#terminator.relayBuffers);
    try {
      for (;;) {
        const buffer = relay.buffer;
        const n = await client.read(buffer);
        if (n === null) break;
        for (let written = 0; written < n && this.#outerOpen;) {
          written += await this.#outer.write(buffer.subarray(written, n)).catch(() => {
            this.close();
            return n;
          });
        }
        relay.after(n);
      }
    } catch {
      // The inner side is gone too.
    } finally {
      relay.release();
    }
    this.close();
    this.#release();
  }
}
