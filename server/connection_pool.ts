/**
 * The server's open connections: each holds a connection slot
 * (`net/connection_slots.ts`) and is served by a `ServerConnection`
 * (`session/connection.ts`) until it ends.
 *
 * | a newcomer arrives and                         | what happens                                        |
 * |------------------------------------------------|-----------------------------------------------------|
 * | no cap is reached                              | it is served                                        |
 * | a cap is reached, the slots name a connection  | that one is evicted (`room`, `session/end_reason.ts`), the newcomer served |
 * | a cap is reached, no candidate may go (signed in, not in debt, busy) | the newcomer is closed at once, with a warning |
 *
 * An evicted connection gives its slot back at once, before it has finished
 * closing.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { formatAddress, plainHost } from "../common/address.ts";
import { ConnectionSlots } from "./net/connection_slots.ts";
import type { NetConn } from "./net/listen.ts";
import { TimedConn } from "./net/timed_conn.ts";
import { ServerConnection } from "./session/connection.ts";
import type { DialectChoice } from "./session/request_table.ts";
import type { SessionContext } from "./session/scope.ts";
import type { ServerLimits } from "./server_options.ts";

const logger = getLogger(["server"]);

/**
 * What a port gives its connections: what they share, their dialect and, on
 * the secure port, the key proof.
 */
export interface PortMode {
  /** What every connection shares. */
  context: SessionContext;
  /** Chooses each connection's dialect from its first request. */
  dialects: DialectChoice;
  /** On the secure port: the certificate's fingerprint, to which key proofs are bound. */
  secure?: { fingerprint: Uint8Array };
}

/** Connections by state, for the metrics. */
export type ConnectionStates = Record<"signing_in" | "idle" | "uploading", number>;

/** A connection in a connection slot: what {@linkcode ConnectionSlots} sees of it. */
class Slot {
  readonly connection: ServerConnection;
  readonly address: string;

  constructor(connection: ServerConnection, address: string) {
    this.connection = connection;
    this.address = address;
  }

  get signedIn(): boolean {
    return this.connection.signedIn;
  }

  get betweenRequests(): boolean {
    return this.connection.betweenRequests;
  }

  unproductiveMs(now: number): number {
    return this.connection.unproductiveMs(now);
  }
}

/** The open connections, their slots, and what each is doing. */
export class ConnectionPool {
  readonly #limits: ServerLimits;
  readonly #slots: ConnectionSlots<Slot>;
  readonly #connections = new Map<ServerConnection, Promise<void>>();
  #nextId = 1;

  /**
   * @param limits The caps and deadlines.
   * @throws {RangeError} if a cap is below 1.
   */
  constructor(limits: ServerLimits) {
    this.#limits = limits;
    this.#slots = new ConnectionSlots<Slot>({
      maxConnections: limits.maxConnections,
      maxPerAddress: limits.maxConnectionsPerAddress,
    });
  }

  /** How many connections are open. */
  get size(): number {
    return this.#connections.size;
  }

  /** The open connections. */
  connections(): IterableIterator<ServerConnection> {
    return this.#connections.keys();
  }

  /** Settles when every connection open now has ended. */
  async ended(): Promise<void> {
    await Promise.all(this.#connections.values());
  }

  /** Serves `conn`, accepted on a port of `mode`, if the caps let it in (see the module doc). */
  admit(conn: NetConn, mode: PortMode): void {
    const remote = conn.remoteAddr as Deno.NetAddr;
    const peer = formatAddress(remote.hostname, remote.port);
    try {
      (conn as Deno.TcpConn).setNoDelay?.(true); // responses are single small writes (not on TLS)
    } catch {
      // The peer is already gone; the connection will notice.
    }
    const address = plainHost(remote.hostname);
    if (!this.#makeRoom(address, peer)) {
      conn.close();
      return;
    }
    this.#open(conn, address, peer, mode);
  }

  /** What each busy connection is doing. */
  activities(): string[] {
    return [...this.#connections.keys()].flatMap((connection) => connection.activity ?? []);
  }

  /** Open connections by state: nobody signed in yet, signed in and idle, busy with an upload. */
  states(): ConnectionStates {
    const states = { signing_in: 0, idle: 0, uploading: 0 };
    for (const connection of this.#connections.keys()) {
      if (connection.busy) states.uploading++;
      else if (connection.signedIn) states.idle++;
      else states.signing_in++;
    }
    return states;
  }

  /**
   * Evicts a connection if the caps call for it (see connection_slots.ts);
   * returns whether the newcomer from `address` may be served.
   */
  #makeRoom(address: string, peer: string): boolean {
    const fromAddress = this.#slots.countFrom(address);
    const room = this.#slots.makeRoom(address);
    const cap = fromAddress >= this.#limits.maxConnectionsPerAddress
      ? `${this.#limits.maxConnectionsPerAddress} connections from ${address} are open`
      : `${this.#limits.maxConnections} connections are open`;
    if (room === undefined) {
      logger.warn("Refused a connection from {peer}: {cap}, none of them may go", {
        peer,
        cap,
      });
      return false;
    }
    const now = performance.now();
    for (const slot of room) {
      const debtMs = slot.signedIn ? slot.unproductiveMs(now) : undefined;
      slot.connection.evict({
        kind: "room",
        cap,
        peer,
        ...(debtMs === undefined ? {} : { debtMs }),
      });
    }
    return true;
  }

  /** Serves `conn` in a new connection, under its deadlines. */
  #open(conn: NetConn, address: string, peer: string, mode: PortMode): void {
    const limits = this.#limits;
    const timed = new TimedConn(conn, {
      idleMs: limits.idleTimeoutMs,
      requestMs: limits.requestTimeoutMs,
      headerMs: limits.headerTimeoutMs,
    }, limits.minRate);
    const connection = new ServerConnection(timed, {
      id: this.#nextId++,
      peer,
      context: mode.context,
      dialects: mode.dialects,
      ...(mode.secure === undefined ? {} : { secure: mode.secure }),
      address,
      signInTimeoutMs: limits.signInTimeoutMs,
      verdictTimeoutMs: limits.verdictTimeoutMs,
      identities: limits.identities,
      onEvicted: () => this.#slots.remove(slot),
    });
    const slot = new Slot(connection, address);
    this.#slots.add(slot);
    this.#connections.set(
      connection,
      connection.run().finally(() => {
        this.#slots.remove(slot);
        this.#connections.delete(connection);
      }),
    );
  }
}
