/**
 * A scriptable fake server for client tests: it listens on 127.0.0.1:0, runs
 * a script for each connection, and records every byte the client sent.
 * Scripts read requests (828 with all its packets) and answer with any bytes,
 * so they can lie, truncate, or send what the reference server would.
 *
 * @module
 */

import { DISCOVERY_REQUEST_CODE } from "../../protocol/discovery.ts";
import { writeAll } from "../../common/write_all.ts";
import {
  aesDecrypt,
  CKSUM_TRAILER_SIZE,
  type ClientId,
  decodePacketHeader,
  encodeResponse,
  ExactReader,
  generateAesKey,
  importAesKey,
  importPublicKey,
  PACKET_HEADER_SIZE,
  PacketDecoder,
  type PacketHeader,
  readRequestHeader,
  readRequestPayload,
  RequestCode,
  type RequestHeader,
  type Response,
  wrapAesKey,
} from "../../protocol/mod.ts";
import { concat } from "../../harness/bytes.ts";

/** Packets read per batch, as our server does. */
const BATCH_PACKETS = 128;

/** A request as the fake server read it. */
export interface FakeRequest {
  /** Header client id. */
  clientId: ClientId;
  /** Request code. */
  code: number;
  /** Payload (empty for 828). */
  payload: Uint8Array;
  /** For 828: the packet headers. */
  packets: PacketHeader[];
  /** For 828: the whole content (ciphertext and trailer). */
  content: Uint8Array;
}

/** One client connection, as a script sees it. */
export class FakePeer {
  #conn: Deno.Conn;
  #reader: ExactReader;
  #peeked: RequestHeader | null | undefined;
  /** Every byte the client sent on this connection. */
  readonly received: Uint8Array[] = [];

  /**
   * Wraps an accepted connection; every byte read from it is recorded.
   *
   * @param conn The connection, owned by the peer from now on.
   */
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
    const received = this.received;
    this.#reader = new ExactReader({
      async read(p: Uint8Array) {
        const n = await conn.read(p);
        if (n !== null) received.push(p.slice(0, n));
        return n;
      },
    });
  }

  /**
   * Reads the next request, or `null` if the client closed. The frame
   * readers check each payload's size against its code, and an 828's packets
   * against its first header, as our server does.
   */
  async read(): Promise<FakeRequest | null> {
    const header = await this.readHeader();
    if (header === null) return null;
    const payload = await readRequestPayload(this.#reader, header);
    const request: FakeRequest = {
      clientId: header.clientId,
      code: header.code,
      payload,
      packets: [],
      content: new Uint8Array(0),
    };
    if (header.code === RequestCode.SendFile) await this.#readPackets(request);
    return request;
  }

  /**
   * Reads only a request header, whatever its code (the secure mode's
   * discovery request is one the v3 frame readers do not know).
   */
  readHeader(): Promise<RequestHeader | null> {
    const peeked = this.#peeked;
    this.#peeked = undefined;
    return peeked === undefined ? readRequestHeader(this.#reader) : Promise.resolve(peeked);
  }

  /** Reads the first request header, and keeps it for the next read. */
  async peekHeader(): Promise<RequestHeader | null> {
    this.#peeked = await this.readHeader();
    return this.#peeked;
  }

  async #readPackets(request: FakeRequest): Promise<void> {
    const firstBytes = await this.#reader.readExact(PACKET_HEADER_SIZE, PACKET_HEADER_SIZE);
    const decoder = new PacketDecoder(decodePacketHeader(firstBytes));
    request.packets.push(decoder.first);
    const content = new Uint8Array(decoder.first.contentSize);
    const raw = new Uint8Array(decoder.rawBufferSize(BATCH_PACKETS));
    while (!decoder.done) {
      const batch = raw.subarray(0, decoder.nextBatchSize(BATCH_PACKETS));
      await this.#reader.readInto(batch);
      decoder.decodeBatch(batch, content.subarray(decoder.contentDecoded), (_, headerBytes) => {
        request.packets.push(decodePacketHeader(headerBytes.slice()));
      });
    }
    request.content = content;
  }

  /** Sends a response, or raw bytes (to send what a correct server never would). */
  async send(response: Response | Uint8Array): Promise<void> {
    await writeAll(
      this.#conn,
      response instanceof Uint8Array ? response : encodeResponse(response),
    );
  }

  /** Closes the connection. */
  close(): void {
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  /** All bytes received so far, concatenated. */
  bytes(): Uint8Array {
    return concat(this.received);
  }
}

/** A running fake server. */
export interface FakeServer {
  /** The port it listens on. */
  port: number;
  /** The connections accepted so far (but the discovery requests', see below). */
  peers: FakePeer[];
  /** How many connections opened with the secure mode's discovery request. */
  readonly discoveries: number;
  /** Errors thrown by scripts (other than the client closing). */
  errors: unknown[];
  /** Stops listening, closes every connection and waits for every script. */
  close(): Promise<void>;
}

/**
 * Starts a fake server that runs `script` for each connection; the
 * connection is closed when the script returns.
 *
 * Like the reference server, it closes a connection that opens with the
 * secure mode's discovery request (code 850), without running `script`
 * (only counted in `discoveries`): our client then opens a new connection
 * for its session. With `seeDiscovery`, `script` gets those too.
 */
export function startFakeServer(
  script: (peer: FakePeer, index: number) => Promise<void>,
  options: { seeDiscovery?: boolean } = {},
): FakeServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peers: FakePeer[] = [];
  const errors: unknown[] = [];
  const running: Promise<void>[] = [];
  const accepted: FakePeer[] = [];
  let discoveries = 0;
  const serve = async (peer: FakePeer) => {
    if (!options.seeDiscovery) {
      const first = await peer.peekHeader().catch(() => null);
      if (first?.code === DISCOVERY_REQUEST_CODE) {
        discoveries++;
        return;
      }
    }
    const index = peers.length;
    peers.push(peer);
    await script(peer, index);
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      const peer = new FakePeer(conn);
      accepted.push(peer);
      running.push(
        serve(peer).catch((error) => {
          if (!(error instanceof Deno.errors.UnexpectedEof)) errors.push(error);
        }).finally(() => peer.close()),
      );
    }
  })();
  let closing: Promise<void> | undefined;
  return {
    port: (listener.addr as Deno.NetAddr).port,
    peers,
    errors,
    get discoveries() {
      return discoveries;
    },
    close() {
      closing ??= (async () => {
        listener.close();
        await accepting.catch(() => {});
        for (const peer of accepted) peer.close();
        await Promise.all(running);
      })();
      return closing;
    },
  };
}

/** Wraps a fresh AES key for a client's 160-byte public key. */
export async function makeSessionKey(
  publicKey: Uint8Array,
): Promise<{ raw: Uint8Array; wrapped: Uint8Array }> {
  const raw = generateAesKey();
  return { raw, wrapped: await wrapAesKey(await importPublicKey(publicKey), raw) };
}

/** Decrypts the 828 content (minus its trailer) with a raw AES key. */
export async function decryptContent(raw: Uint8Array, content: Uint8Array): Promise<Uint8Array> {
  return await aesDecrypt(
    await importAesKey(raw),
    content.subarray(0, content.length - CKSUM_TRAILER_SIZE),
  );
}

/** Reads the cksum trailer of the 828 content. */
export function contentTrailer(content: Uint8Array): number {
  return new DataView(content.buffer, content.byteOffset + content.length - 4, 4).getUint32(
    0,
    true,
  );
}
