/**
 * The throwaway engines of `scripts/services/` start on 127.0.0.1, answer,
 * and leave nothing behind when stopped: PostgreSQL takes queries, Ceph's
 * gateway stores and returns an object, HAProxy spreads connections over its
 * backends round-robin and skips one that is gone.
 *
 * @module
 */

import assert from "node:assert/strict";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import postgres from "postgres";
import {
  ignoreWithoutServices,
  startCeph,
  startHaproxy,
  startPostgres,
} from "./support/services.ts";

Deno.test({
  name: "a throwaway PostgreSQL answers queries and is gone after stop",
  ignore: ignoreWithoutServices("throwaway PostgreSQL", ["postgres"]),
  async fn() {
    const pg = await startPostgres();
    const url = await pg.createDatabase("services_test");
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql`SELECT current_database() AS name`;
      assert.deepEqual(row?.name, "services_test");
    } finally {
      await sql.end();
      await pg.stop();
    }
    const again = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
    let refused = false;
    try {
      await again`SELECT 1`;
    } catch {
      refused = true;
    } finally {
      await again.end({ timeout: 1 }).catch(() => {});
    }
    assert(refused, "the server still answers after stop");
  },
});

Deno.test({
  name: "a throwaway Ceph gateway stores and returns an object and is gone after stop",
  ignore: ignoreWithoutServices("throwaway Ceph", ["s3"]),
  async fn() {
    const s3 = await startCeph();
    const client = s3.client();
    try {
      await client.send(
        new PutObjectCommand({ Bucket: s3.bucket, Key: "a/b.txt", Body: "hello" }),
      );
      const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "a/b.txt" }));
      assert.deepEqual(await got.Body?.transformToString(), "hello");
    } finally {
      client.destroy();
      await s3.stop();
    }
    let refused = false;
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port: Number(new URL(s3.endpoint).port) }))
        .close();
    } catch {
      refused = true;
    }
    assert(refused, "the gateway still listens after stop");
  },
});

/** A listener that answers every connection with its own tag and closes it. */
function tagListener(tag: string): { port: number; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let closed = false;
  const loop = (async () => {
    while (!closed) {
      // A health check may reset its connection before it is accepted.
      const conn = await listener.accept().catch(() => undefined);
      if (conn === undefined) continue;
      await conn.write(new TextEncoder().encode(tag)).catch(() => 0);
      conn.close();
    }
  })();
  return {
    port: listener.addr.port,
    async close() {
      if (closed) return;
      closed = true;
      listener.close();
      await loop.catch(() => {});
    },
  };
}

async function readTag(port: number): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const buffer = new Uint8Array(16);
  let text = "";
  while (true) {
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) break;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  conn.close();
  return text;
}

Deno.test({
  name: "HAProxy spreads connections round-robin and sends them elsewhere when a backend is gone",
  ignore: ignoreWithoutServices("HAProxy round-robin", ["haproxy"]),
  async fn() {
    const a = tagListener("A");
    const b = tagListener("B");
    const lb = await startHaproxy([a.port, b.port]);
    try {
      const tags = new Set<string>();
      for (let i = 0; i < 6; i++) tags.add(await readTag(lb.port));
      assert.deepEqual([...tags].sort(), ["A", "B"]);
      await b.close();
      for (let i = 0; i < 6; i++) assert.deepEqual(await readTag(lb.port), "A");
    } finally {
      await lb.stop();
      await a.close();
      await b.close();
    }
  },
});
