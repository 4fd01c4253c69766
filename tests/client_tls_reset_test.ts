/**
 * Issue 17, §5: when the secure port reset the connection at once, the client
 * exited 70 with `client: Bug: ...` and a stack in 3 runs of 4, instead of
 * its one-line network failure (exit 3). Every way a pinned server's secure
 * port can fail the handshake is now a network failure, several runs each.
 */

import assert from "node:assert/strict";
import * as net from "node:net";
import { join } from "node:path";
import { startServer } from "../server/server.ts";
import { patternBytes, runClient } from "./support/client_process.ts";
import { freePort } from "./support/ports.ts";

/** Runs of the client per way of failing: the failure was intermittent. */
const RUNS = 3;

/** How the fake secure port treats each connection. */
const FAILURES: Record<string, (socket: net.Socket) => void> = {
  "resets at once (RST)": (socket) => socket.resetAndDestroy(),
  "resets once the ClientHello is in": (socket) =>
    socket.once("data", () => socket.resetAndDestroy()),
  "closes once the ClientHello is in": (socket) => socket.once("data", () => socket.destroy()),
  "closes at once": (socket) => socket.destroy(),
  "answers garbage": (socket) => socket.once("data", () => socket.end("HTTP/1.1 400 Bad\r\n\r\n")),
};

/** A TCP listener on 127.0.0.1:`port` that fails every connection with `fail`. */
async function failingPort(port: number, fail: (socket: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer((socket) => {
    socket.on("error", () => {});
    fail(socket);
  });
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", () => resolve()));
  return server;
}

Deno.test("a pinned server's secure port that resets or breaks the handshake is the client's one-line network failure, exit 3", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "tls_reset_" });
  const serverDir = join(root, "server");
  const clientDir = join(root, "client");
  await Deno.mkdir(clientDir);
  await Deno.writeFile(join(clientDir, "data.bin"), patternBytes(10_000, 3));
  const port = freePort();
  const securePort = freePort();
  const send = async () => {
    await Deno.writeTextFile(
      join(clientDir, "transfer.info"),
      `127.0.0.1:${port}\nRae\ndata.bin\n`,
    );
    return await runClient(["--dir", clientDir, "--retries", "0"]);
  };
  try {
    // First contact pins the server's certificate.
    const server = await startServer({ host: "127.0.0.1", port, securePort, dir: serverDir });
    try {
      const first = await send();
      assert.equal(first.code, 0, first.stderr);
    } finally {
      await server.close();
    }
    // The same plain port, and a secure port that fails.
    const plainOnly = await startServer({
      host: "127.0.0.1",
      port,
      securePort: false,
      dir: serverDir,
    });
    try {
      for (const [name, fail] of Object.entries(FAILURES)) {
        await t.step(name, async () => {
          const failing = await failingPort(securePort, fail);
          try {
            for (let run = 0; run < RUNS; run++) {
              const result = await send();
              assert.equal(result.code, 3, result.stderr);
              // The progress line, then the failure in one line.
              const failure = result.stderr.trim().split("\n").filter((line) =>
                !line.startsWith("client: sending ")
              );
              assert.equal(failure.length, 1, result.stderr);
              assert.match(failure[0]!, /^client: Cannot /);
              assert.doesNotMatch(result.stderr, /Bug/);
            }
          } finally {
            await new Promise((resolve) => failing.close(resolve));
          }
        });
      }
    } finally {
      await plainOnly.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
