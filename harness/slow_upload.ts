/**
 * Slow uploads, as an attacker holding the server's upload buffers would
 * send them (issue 17, §4): each signs up, starts an 828 upload and then
 * sends one packet at a time, a packet every `intervalMs`, until stopped.
 * Shared by `tests/reliability_server_slow_uploads_test.ts` and
 * `bench/fair_buffers.ts`.
 *
 * @module
 */

import { encodeFileNameField, encodeRequestHeader, RequestCode } from "../protocol/mod.ts";
import { buildPackets, encryptContent, RawClient, signUp } from "./raw_client.ts";
import type { RsaKeyPair } from "../protocol/rsa.ts";

/** A running slow upload. */
export interface SlowUpload {
  /** Packets sent so far. */
  readonly sent: number;
  /** Packets in the whole upload. */
  readonly total: number;
  /** Whether the server ended the connection (or the upload finished). */
  readonly ended: boolean;
}

/** Slow uploads that run until {@linkcode SlowUploads.stop}. */
export class SlowUploads {
  readonly uploads: SlowUpload[] = [];
  #stopped = false;
  readonly #running: Promise<void>[] = [];
  readonly #clients: RawClient[] = [];

  /**
   * Starts `count` slow uploads of `size` bytes each to `port`, named
   * `Slow <i>`, all signed up with `keys`. Resolves once each has sent its
   * first packet.
   */
  static async start(
    port: number,
    count: number,
    size: number,
    intervalMs: number,
    keys: RsaKeyPair,
  ): Promise<SlowUploads> {
    const slow = new SlowUploads();
    const data = new Uint8Array(size).fill(7);
    const started = await Promise.all(
      Array.from({ length: count }, (_, i) => slow.#begin(port, `Slow ${i}`, data, keys)),
    );
    for (const [upload, packets, client] of started) {
      slow.#running.push(slow.#trickle(upload, packets, client, intervalMs));
    }
    return slow;
  }

  /** Stops every upload and closes its connection. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const client of this.#clients) client.close();
    await Promise.all(this.#running);
  }

  async #begin(
    port: number,
    name: string,
    data: Uint8Array,
    keys: RsaKeyPair,
  ): Promise<[{ sent: number; total: number; ended: boolean }, Uint8Array[], RawClient]> {
    const client = await RawClient.connect(port);
    this.#clients.push(client);
    const me = await signUp(client, name, keys);
    const content = await encryptContent(me.aesKey, data);
    const packets = buildPackets(content, data.length, encodeFileNameField(`${name}.bin`));
    const upload = { sent: 0, total: packets.length, ended: false };
    this.uploads.push(upload);
    await client.send(encodeRequestHeader(me.clientId, RequestCode.SendFile, 0));
    await client.send(packets[0]!);
    upload.sent = 1;
    return [upload, packets, client];
  }

  async #trickle(
    upload: { sent: number; total: number; ended: boolean },
    packets: Uint8Array[],
    client: RawClient,
    intervalMs: number,
  ): Promise<void> {
    try {
      while (!this.#stopped && upload.sent < upload.total) {
        await new Promise((resolve) => setTimeout(resolve, intervalMs));
        if (this.#stopped) break;
        await client.send(packets[upload.sent]!);
        upload.sent++;
      }
    } catch {
      // The server closed it.
    } finally {
      upload.ended = true;
    }
  }
}
