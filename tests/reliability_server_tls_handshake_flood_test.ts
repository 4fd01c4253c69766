/**
 * Issue 17, §1: 1,000 TLS handshakes started on the secure port and never
 * finished, from one address (here 127.0.0.1, as the polite client that comes
 * after them), made the server's open descriptors climb to
 * the process limit, then Deno panicked (`EMFILE`, exit 1) and the plain port
 * went down with the secure one. Now every accepted socket counts against
 * `--max-connections`, closing one closes its socket whatever its handshake
 * state, and the server refuses to start with a limit that cannot hold its
 * connections.
 */

import assert from "node:assert/strict";
import { cksum } from "../protocol/mod.ts";
import { descriptorsNeeded } from "../server/net/fd_budget.ts";
import { RawClient, signUp } from "../harness/raw_client.ts";
import { delay, waitUntil, within } from "./support/reliability.ts";
import { ServerProcess } from "./support/server_process.ts";

/** Half-open handshakes the attacker starts. */
const HANDSHAKES = 1000;
/** The slots of the server under attack. */
const MAX_CONNECTIONS = 64;
/** Its limit on open files: room for its slots, far from room for the flood. */
const OPEN_FILE_LIMIT = descriptorsNeeded(MAX_CONNECTIONS) + 64;
/** The first bytes of a TLS ClientHello: a record header and the start of the message. */
const CLIENT_HELLO_START = new Uint8Array([0x16, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3]);

/** Open descriptors of process `pid`, counted through `ls` (Deno reads /proc only with --allow-all). */
async function openDescriptors(pid: number): Promise<number> {
  const output = await new Deno.Command("ls", {
    args: [`/proc/${pid}/fd`],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(output.stdout).split("\n").filter((line) => line !== "").length;
}

/** Starts a handshake and never finishes it; keeps the socket open in `sockets`. */
async function halfOpenHandshake(port: number, sockets: Deno.Conn[]): Promise<void> {
  try {
    const socket = await Deno.connect({ hostname: "127.0.0.1", port });
    sockets.push(socket);
    await socket.write(CLIENT_HELLO_START);
  } catch {
    // Refused or reset: the flood goes on.
  }
}

/** A normal client on the plain port: sign up, upload a small file. */
async function normalClient(port: number, name: string): Promise<void> {
  using client = await RawClient.connect(port);
  const me = await signUp(client, name);
  const data = crypto.getRandomValues(new Uint8Array(1000));
  const received = await client.upload(me.clientId, me.aesKey, "normal.bin", data);
  assert.equal(received.cksum, cksum(data));
}

Deno.test({
  name:
    "reliability: 1,000 half-open TLS handshakes from one address keep the server's descriptors bounded, the process up and the plain port serving",
  ignore: Deno.build.os !== "linux", // counts /proc/<pid>/fd
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tls_flood_" });
    const server = await ServerProcess.start(dir, [
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--max-connections",
      String(MAX_CONNECTIONS),
      "--max-per-address",
      String(MAX_CONNECTIONS),
    ], { openFileLimit: OPEN_FILE_LIMIT });
    const sockets: Deno.Conn[] = [];
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await openDescriptors(server.child.pid));
        await delay(100);
      }
    })();
    try {
      const secureLine = /Secure mode \(TLS\) on .*?:(\d+)/;
      await waitUntil("the secure port to be listed", () => secureLine.test(server.stderr));
      const securePort = Number(secureLine.exec(server.stderr)![1]);
      for (let started = 0; started < HANDSHAKES; started += 50) {
        await within(
          "50 half-open handshakes to be sent",
          Promise.all(
            Array.from({ length: 50 }, () => halfOpenHandshake(securePort, sockets)),
          ),
          30_000,
        );
      }
      await delay(1000); // the last ones in, the evicted ones closed
      const status = await Promise.race([server.child.status, delay(0).then(() => undefined)]);
      assert.equal(status, undefined, `the server exited during the flood:\n${server.stderr}`);
      await within(
        "a normal client on the plain port",
        normalClient(server.port, "Polite"),
        20_000,
      );
      const budget = descriptorsNeeded(MAX_CONNECTIONS);
      console.log(
        `${HANDSHAKES} half-open handshakes, all still open on the attacker's side; ` +
          `server descriptors at most ${peak}, budget ${budget}, limit ${OPEN_FILE_LIMIT}`,
      );
      assert.ok(peak <= budget, `the server held ${peak} descriptors, above ${budget}`);
    } finally {
      sampling = false;
      await sampler;
      for (const socket of sockets) socket.close();
      const status = await server.stop();
      await Deno.remove(dir, { recursive: true });
      assert.equal(status.code, 0, server.stderr.slice(-2000));
    }
  },
});

Deno.test({
  name:
    "reliability: a server whose open files limit cannot hold --max-connections refuses to start, in one line",
  ignore: Deno.build.os === "windows", // ulimit
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "tls_flood_" });
    try {
      const server = ServerProcess.spawn(dir, ["--port", "0", "--max-connections", "256"], {
        openFileLimit: 64,
      });
      const status = await within("the server to refuse", server.wait(), 20_000);
      const lines = server.stderr.trim().split("\n");
      assert.equal(status.code, 1, server.stderr);
      assert.equal(lines.length, 1, server.stderr);
      assert.match(
        lines[0]!,
        new RegExp(
          `^Cannot start: 256 connections need up to ${
            descriptorsNeeded(256)
          } open files, and this process could open only \\d+ more; `,
        ),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
