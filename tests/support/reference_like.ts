/**
 * A server like the reference in front of ours: it closes a connection that
 * opens with the discovery request (850), as the reference does with a code
 * it does not know, and relays any other to ours.
 *
 * @module
 */

import { DISCOVERY_REQUEST_CODE } from "../../protocol/discovery.ts";
import { decodeRequestHeader, REQUEST_HEADER_SIZE } from "../../protocol/mod.ts";
import { pipeBoth, type RelayServer, relayServer } from "../../harness/relay.ts";

/** A running reference-like relay. */
export interface ReferenceLike extends RelayServer {
  /** Connections that opened with the discovery request, and were closed. */
  readonly discoveries: number;
}

/** Starts a reference-like relay to 127.0.0.1:`target`. */
export function referenceLike(target: number): ReferenceLike {
  let discoveries = 0;
  const relay = relayServer(async (conn) => {
    const header = new Uint8Array(REQUEST_HEADER_SIZE);
    for (let length = 0; length < header.length;) {
      const n = await conn.read(header.subarray(length));
      if (n === null) return;
      length += n;
    }
    if (decodeRequestHeader(header).code === DISCOVERY_REQUEST_CODE) {
      discoveries++;
      return;
    }
    const upstream = await Deno.connect({ hostname: "127.0.0.1", port: target });
    await upstream.write(header);
    await pipeBoth(conn, upstream);
  });
  return {
    port: relay.port,
    get connections() {
      return relay.connections;
    },
    get discoveries() {
      return discoveries;
    },
    close: () => relay.close(),
  };
}
