/**
 * The `--http` listener (`server/observe/`): `GET /healthz` is 200 while the
 * instance serves and 503 while it shuts down or its file store fails;
 * `GET /metrics`, scraped while uploads run, counts connections by state,
 * uploads in progress, bytes received, uploads stored and refused by reason,
 * registrations, the buffer budget in use and storage latency. A real server
 * process with the task's permissions; the same behind HAProxy with
 * `option httpchk` in `scale_secure_instances_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { cksum, RequestCode, ResponseCode } from "../protocol/mod.ts";
import { randomBytes, RawClient, signUp, uploadStream } from "../harness/raw_client.ts";
import { parseHttpAddress } from "../server/cli/command_line.ts";
import { waitUntil } from "./support/reliability.ts";
import { ServerProcess } from "./support/server_process.ts";

/** The `--http` address the server logged. */
async function httpAddress(server: ServerProcess): Promise<string> {
  const line = /Health on http:\/\/(\S+)\/healthz/;
  await waitUntil("the health listener's log line", () => line.test(server.stderr));
  return line.exec(server.stderr)![1]!;
}

async function get(address: string, path: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://${address}${path}`, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, text: await response.text() };
}

/** The value of one sample (`name{labels}`) in a scrape, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function withServer(
  fn: (server: ServerProcess, http: string) => Promise<void>,
  args: string[] = [],
) {
  const dir = await Deno.makeTempDir({ prefix: "server_http_" });
  const server = await ServerProcess.start(dir, [
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--http",
    "127.0.0.1:0",
    ...args,
  ]);
  try {
    await fn(server, await httpAddress(server));
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("server --http: parsing the address", () => {
  assert.deepEqual(parseHttpAddress("127.0.0.1:9100"), { hostname: "127.0.0.1", port: 9100 });
  assert.deepEqual(parseHttpAddress("[::1]:0"), { hostname: "::1", port: 0 });
  assert.throws(() => parseHttpAddress("9100"), /Cannot use --http 9100: give HOST:PORT/);
});

Deno.test("server --http: healthz is 200 while serving; metrics scraped while uploads run", async () => {
  await withServer(async (server, http) => {
    assert.deepEqual(await get(http, "/healthz"), { status: 200, text: "ok\n" });
    assert.equal((await get(http, "/nothing")).status, 404);

    // One client registers and stores a small file.
    const small = randomBytes(10_000);
    const client = await RawClient.connect(server.port);
    const me = await signUp(client, "Scraped");
    const received = await client.upload(me.clientId, me.aesKey, "small.bin", small);
    assert.equal(received.cksum, cksum(small));
    await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "small.bin" });
    await client.expect(ResponseCode.Ack);

    // Another upload is half sent when the metrics are scraped.
    const size = 8 * 1024 * 1024;
    const busy = await RawClient.connect(server.port);
    const other = await signUp(busy, "Busy");
    const upload = uploadStream(other.clientId, other.aesKey, "big.bin", size);
    let sent = 0;
    for await (const frame of upload.frames) {
      await busy.send(frame);
      sent += frame.length;
      if (sent > size / 2) break;
    }
    const idle = await RawClient.connect(server.port); // nobody signs in on it
    let during = "";
    await waitUntil("the half-sent upload in the metrics", async () => {
      during = (await get(http, "/metrics")).text;
      return (sample(during, "ft_uploads_in_progress") ?? 0) >= 1 &&
        (sample(during, "ft_upload_bytes_received_total") ?? 0) > small.length &&
        sample(during, 'ft_connections{state="signing_in"}') === 1;
    });
    assert.equal(sample(during, 'ft_connections{state="uploading"}'), 1, during);
    assert.equal(sample(during, 'ft_connections{state="idle"}'), 1, during);
    assert.equal(sample(during, "ft_uploads_stored_total"), 1, during);
    assert.equal(sample(during, 'ft_registrations_total{outcome="registered"}'), 2, during);
    assert.equal(sample(during, 'ft_upload_buffer_bytes{kind="limit"}'), 64 * 1024 * 1024);
    assert.ok((sample(during, 'ft_upload_buffer_bytes{kind="in_use"}') ?? -1) >= 0, during);
    assert.ok(
      (sample(during, 'ft_storage_seconds_count{operation="registry.addClient"}') ?? 0) >= 2,
      during,
    );
    assert.match(during, /^# TYPE ft_storage_seconds histogram$/m);

    // The client sends the rest, but claims another cksum and gives up: not stored.
    busy.close();
    idle.close();
    const liar = await RawClient.connect(server.port);
    const key = await liar.reconnect(other.clientId, "Busy", other.keys.privateKey);
    const data = randomBytes(5_000);
    const lied = await liar.upload(other.clientId, key, "lie.bin", data, { trailer: 1 });
    assert.notEqual(lied.cksum, 1);
    await liar.request(other.clientId, { code: RequestCode.CrcAbort, fileName: "lie.bin" });
    await liar.expect(ResponseCode.Ack);
    liar.close();
    client.close();

    let after = "";
    await waitUntil("the ended uploads in the metrics", async () => {
      after = (await get(http, "/metrics")).text;
      return sample(after, "ft_uploads_in_progress") === 0 &&
        sample(after, 'ft_uploads_refused_total{reason="connection_ended"}') === 1 &&
        sample(after, 'ft_uploads_refused_total{reason="content_mismatch"}') === 1;
    });
    assert.equal(sample(after, "ft_uploads_stored_total"), 1, after);
    // Received counts every byte staged (the half-sent and the lying uploads' too); stored, the file's.
    assert.equal(sample(after, "ft_upload_bytes_stored_total"), small.length, after);
    assert.ok((sample(after, "ft_upload_bytes_received_total") ?? 0) > small.length + data.length);
    assert.equal(sample(after, 'ft_uploads_refused_total{reason="storage_error"}'), 0, after);
  });
});

Deno.test("server --http: healthz is 503 while the server shuts down and when its store fails", async () => {
  await withServer(async (server, http) => {
    // The store's folder replaced by a file: listing a client's files fails.
    const dir = /data in (\S+);/.exec(server.stderr)![1]!;
    const files = join(dir, "received_files");
    await Deno.rename(files, `${files}.away`);
    await Deno.writeTextFile(files, "not a folder");
    await waitUntil(
      "a 503 for the store",
      async () => (await get(http, "/healthz")).status === 503,
    );
    assert.match((await get(http, "/healthz")).text, /^unavailable: the file store: /);
    await Deno.remove(files);
    await Deno.rename(`${files}.away`, files);
    await waitUntil("a 200 again", async () => (await get(http, "/healthz")).status === 200);

    // An upload in progress holds the shutdown for its grace period: 503 meanwhile.
    const client = await RawClient.connect(server.port);
    const me = await signUp(client, "Holder");
    const upload = uploadStream(me.clientId, me.aesKey, "held.bin", 4 * 1024 * 1024);
    const first = await upload.frames.next();
    await client.send(first.value!);
    const second = await upload.frames.next();
    await client.send(second.value!);
    server.child.kill("SIGTERM");
    await waitUntil("the shutdown to begin", () => /Shutting down/.test(server.stderr));
    const during = await get(http, "/healthz");
    assert.deepEqual(during, { status: 503, text: "unavailable: shutting down\n" });
    client.close();
    await server.wait();
  });
});

Deno.test("server --http: uploads not stored are counted by why: the content, the client's 901 or 902, the verdict deadline, the connection's end, a new upload", async () => {
  await withServer(async (server, http) => {
    const refused = async (reason: string) =>
      sample((await get(http, "/metrics")).text, `ft_uploads_refused_total{reason="${reason}"}`);
    const client = await RawClient.connect(server.port);
    const me = await signUp(client, "Reasons");
    const upload = (name: string, trailer?: number) =>
      client.upload(
        me.clientId,
        me.aesKey,
        name,
        randomBytes(1_000),
        trailer === undefined ? {} : { trailer },
      );
    const verdict = async (code: 901 | 902, fileName: string) => {
      await client.request(me.clientId, { code, fileName });
      if (code === RequestCode.CrcAbort) await client.expect(ResponseCode.Ack);
    };

    await upload("lie.bin", 1); // its cksum is not the client's: not kept
    await verdict(RequestCode.CrcAbort, "lie.bin");
    await upload("retry.bin");
    await verdict(RequestCode.CrcRetry, "retry.bin");
    await upload("retry.bin"); // the resend
    await verdict(RequestCode.CrcAbort, "retry.bin");
    await upload("first.bin");
    await upload("second.bin"); // replaces first.bin before its verdict
    await verdict(RequestCode.CrcAbort, "second.bin");
    await upload("late.bin"); // no verdict: the deadline (1 s) closes the connection
    await waitUntil("the verdict deadline", async () => (await refused("verdict_timeout")) === 1);
    client.close();

    const other = await RawClient.connect(server.port);
    const key = await other.reconnect(me.clientId, "Reasons", me.keys.privateKey);
    await other.upload(me.clientId, key, "left.bin", randomBytes(1_000));
    other.close(); // before its verdict
    await waitUntil("the connection's end", async () => (await refused("connection_ended")) === 1);

    const text = (await get(http, "/metrics")).text;
    const counts = Object.fromEntries(
      ["content_mismatch", "client_retry", "client_abort", "superseded", "verdict_timeout"].map((
        reason,
      ) => [reason, sample(text, `ft_uploads_refused_total{reason="${reason}"}`)]),
    );
    assert.deepEqual(counts, {
      content_mismatch: 1,
      client_retry: 1,
      client_abort: 2,
      superseded: 1,
      verdict_timeout: 1,
    }, text);
    assert.equal(sample(text, "ft_uploads_in_progress"), 0, text);
    assert.equal(sample(text, "ft_uploads_stored_total"), 0, text);
    assert.equal(sample(text, "ft_upload_bytes_stored_total"), 0, text);
  }, ["--verdict-timeout", "1"]);
});
