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
import { dirname, join } from "node:path";
import { CLIENT_PERMISSION_FLAGS, ROOT } from "../scripts/permissions.ts";
import { waitUntil } from "./support/reliability.ts";
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

/** Reads `stream` line by line into `lines` until it ends (a child's output). */
async function collectLines(stream: ReadableStream<Uint8Array>, lines: string[]): Promise<void> {
  let pending = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (pending + text).split("\n");
    pending = parts.pop()!;
    lines.push(...parts);
  }
}

Deno.test({
  name: "deno task services starts all three engines and prints settings and commands that work",
  ignore: ignoreWithoutServices("deno task services", ["postgres", "s3", "haproxy"]),
  async fn() {
    const data = await Deno.makeTempDir({ prefix: "services_main_" });
    const services = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--allow-all",
        join(ROOT, "scripts/services/main.ts"),
        "--data",
        join(data, "ft"),
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out: string[] = [];
    const err: string[] = [];
    const reading = Promise.all([
      collectLines(services.stdout, out),
      collectLines(services.stderr, err),
    ]);
    const instances: Deno.ChildProcess[] = [];
    const logs: string[][] = [];
    try {
      await waitUntil(
        "the services to run",
        () => out.includes("# running; Ctrl-C stops everything") || err.length > 0,
        120_000,
      );
      assert.deepEqual(err, []);
      const env: Record<string, string> = {};
      for (const line of out) {
        const match = /^export (\w+)=(.*)$/.exec(line);
        if (match !== null) env[match[1]!] = match[2]!;
      }
      assert.deepEqual(Object.keys(env).sort(), [
        "AWS_ACCESS_KEY_ID",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "FT_REGISTRY_URL",
        "FT_S3_ENDPOINT",
        "FT_STORE",
      ]);
      const lbPort = Number(/clients connect to 127\.0\.0\.1:(\d+)/.exec(out.join("\n"))?.[1]);
      const commands = out.filter((line) => line.startsWith("deno run "));
      assert.equal(commands.length, 2);
      // Each printed command, as printed, from the repository's root, after the exports.
      for (const command of commands) {
        const child = new Deno.Command("sh", {
          args: ["-c", `PATH="$DENO_BIN:$PATH" exec ${command}`],
          env: { ...env, DENO_BIN: dirname(Deno.execPath()) },
          cwd: ROOT,
          stdin: "null",
          stdout: "null",
          stderr: "piped",
        }).spawn();
        instances.push(child);
        const log: string[] = [];
        logs.push(log);
        collectLines(child.stderr, log).catch(() => {});
      }
      for (const log of logs) {
        await waitUntil(
          "an instance to listen",
          () => log.some((l) => /Health on/.test(l)),
          30_000,
        );
        assert.ok(!log.some((l) => /\[WRN\]|\[ERR\]/.test(l)), log.join("\n"));
      }
      // A client through the balancer: pins the balancer's secure port, and is served.
      const client = join(data, "client");
      await Deno.mkdir(client);
      await Deno.writeFile(join(client, "f.bin"), new Uint8Array(1000).fill(7));
      await Deno.writeTextFile(join(client, "transfer.info"), `127.0.0.1:${lbPort}\nTry\nf.bin\n`);
      const run = await new Deno.Command(Deno.execPath(), {
        args: ["run", ...CLIENT_PERMISSION_FLAGS, join(ROOT, "client/main.ts"), "--dir", client],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(run.stderr);
      assert.equal(run.code, 0, stderr);
      const pin = await Deno.readTextFile(join(client, "known_servers"));
      const securePort = /secure port (\d+) to the instances/.exec(out.join("\n"))?.[1];
      assert.match(pin, new RegExp(`^127\\.0\\.0\\.1:${lbPort} ${securePort} SHA256:`, "m"));
    } finally {
      for (const child of instances) {
        child.kill("SIGTERM");
        await child.status;
      }
      services.kill("SIGTERM");
      assert.equal((await services.status).code, 0);
      await reading;
      await Deno.remove(data, { recursive: true });
    }
  },
});
