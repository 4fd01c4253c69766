/**
 * Resume (issue 20, point 1): an upload cut at several points (0, half, the
 * last byte) continues where it stopped on the next run, with the stored file
 * byte-identical and the rerun sending only the rest (bytes counted by a
 * relay, not time); a file that changed meanwhile goes whole; the kept bytes
 * survive a server restart and a killed client.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { clientIdToHex, parseMeInfo } from "../protocol/mod.ts";
import { fileSha256 } from "../harness/file_sha256.ts";
import { type RunningServer, type ServerOptions, startServer } from "../server/server.ts";
import { CLIENT_PERMISSION_FLAGS } from "../scripts/permissions.ts";
import {
  CLIENT_MAIN,
  type ClientRun,
  patternBytes,
  runClient,
  writeTransferInfo,
} from "./support/client_process.ts";
import { type CountingRelay, countingRelay } from "../harness/counting_relay.ts";
import { freePort } from "./support/ports.ts";
import { waitUntil } from "./support/reliability.ts";
import { clientRows, openOperatorStorage } from "../server/cli/operator.ts";

const SIZE = 8 * 1024 * 1024 + 12_345;

/** A server, a client folder pinned to it, and a relay in front of its secure port. */
interface Setup {
  server: RunningServer;
  serverDir: string;
  clientDir: string;
  relay: CountingRelay;
}

async function withSetup(
  options: Partial<ServerOptions>,
  fn: (setup: Setup) => Promise<void>,
): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "transfer_resume_" });
  const serverDir = join(root, "server");
  const clientDir = join(root, "client");
  const server = await startServer({ host: "127.0.0.1", port: 0, dir: serverDir, ...options });
  const relay = countingRelay(server.securePort!);
  const setup = { server, serverDir, clientDir, relay };
  try {
    await pinThroughRelay(setup);
    await fn(setup);
  } finally {
    await setup.relay.close();
    await setup.server.close();
    await Deno.remove(root, { recursive: true });
  }
}

/** First contact pins the server; the pin then points at the relay instead of the secure port. */
async function pinThroughRelay(setup: Setup): Promise<void> {
  await writeTransferInfo(setup.clientDir, setup.server.port, "Resa", "seed.bin", patternBytes(10));
  const first = await runClient(["--dir", setup.clientDir]);
  assert.equal(first.code, 0, first.stderr);
  const path = join(setup.clientDir, "known_servers");
  const text = await Deno.readTextFile(path);
  await Deno.writeTextFile(
    path,
    text.replace(` ${setup.server.securePort} `, ` ${setup.relay.port} `),
  );
}

async function send(setup: Setup, file: string, args: string[] = []): Promise<ClientRun> {
  await Deno.writeTextFile(
    join(setup.clientDir, "transfer.info"),
    `127.0.0.1:${setup.server.port}\nResa\n${file}\n`,
  );
  setup.relay.reset();
  return await runClient(["--dir", setup.clientDir, "--retries", "0", ...args]);
}

async function storedFile(setup: Setup, name: string): Promise<Uint8Array> {
  const { clientId } = parseMeInfo(await Deno.readTextFile(join(setup.clientDir, "me.info")));
  return await Deno.readFile(
    join(setup.serverDir, "received_files", clientIdToHex(clientId), name),
  );
}

/** Waits until the server recorded what it kept of a cut upload of `name` (its side of the cut). */
async function waitForKept(setup: Setup, name: string): Promise<void> {
  await using operator = await openOperatorStorage(setup.serverDir);
  await waitUntil(
    `the server to keep what arrived of ${name}`,
    async () =>
      (await operator.registry.listPartials()).some((partial) => partial.fileName === name),
  );
}

/** Bytes a whole upload of `name` (SIZE bytes) takes through the relay, sign-in included. */
async function measureWholeRun(setup: Setup): Promise<number> {
  await Deno.writeFile(join(setup.clientDir, "measure.bin"), patternBytes(SIZE, 99));
  const run = await send(setup, "measure.bin");
  assert.equal(run.code, 0, run.stderr);
  return setup.relay.sent;
}

Deno.test("an upload cut at 0, at half and before its last byte resumes, byte-identical, sending only the rest", async (t) => {
  await withSetup({}, async (setup) => {
    const whole = await measureWholeRun(setup);
    const overhead = whole - SIZE;
    const cases = [
      { name: "cut before any content", budget: Math.max(overhead - 2000, 100), most: 1.1 },
      { name: "cut at half", budget: overhead + SIZE / 2, most: 0.6 },
      { name: "cut before the last byte", budget: whole - 330, most: 0.2 },
    ];
    for (const [i, { name, budget, most }] of cases.entries()) {
      await t.step(name, async () => {
        const file = `cut-${i}.bin`;
        const contents = patternBytes(SIZE, 10 + i);
        await Deno.writeFile(join(setup.clientDir, file), contents);
        setup.relay.budget = Math.round(budget);
        const cut = await send(setup, file);
        assert.equal(cut.code, 3, cut.stderr);
        assert.match(cut.stderr, /Run the client again|Cannot/);
        if (most < 1) await waitForKept(setup, file);
        setup.relay.budget = undefined;
        const rerun = await send(setup, file);
        assert.equal(rerun.code, 0, rerun.stderr);
        assert.deepEqual(await storedFile(setup, file), contents);
        assert.ok(
          setup.relay.sent < most * SIZE + overhead,
          `the rerun sent ${setup.relay.sent} bytes of a ${SIZE}-byte file`,
        );
        if (most < 1) assert.match(rerun.stdout, /resumed after the [\d.]+ [kM]?B it had kept/);
      });
    }
  });
});

Deno.test("a file that changed after the cut is sent whole", async () => {
  await withSetup({}, async (setup) => {
    const whole = await measureWholeRun(setup);
    const contents = patternBytes(SIZE, 21);
    await Deno.writeFile(join(setup.clientDir, "changed.bin"), contents);
    setup.relay.budget = whole - SIZE / 2;
    assert.equal((await send(setup, "changed.bin")).code, 3);
    await waitForKept(setup, "changed.bin");
    setup.relay.budget = undefined;
    contents[5] = contents[5]! ^ 0xff; // the start changed: what the server kept is not this file's start
    await Deno.writeFile(join(setup.clientDir, "changed.bin"), contents);
    const rerun = await send(setup, "changed.bin");
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stderr, /the file changed since: sending it whole/);
    assert.ok(setup.relay.sent > SIZE, `the rerun sent ${setup.relay.sent} bytes`);
    assert.deepEqual(await storedFile(setup, "changed.bin"), contents);
  });
});

Deno.test("what a cut upload kept survives a server restart, and a killed client resumes", async () => {
  const port = freePort();
  const securePort = freePort();
  await withSetup({ port, securePort }, async (setup) => {
    const contents = patternBytes(SIZE * 4, 31);
    await Deno.writeFile(join(setup.clientDir, "big.bin"), contents);
    await Deno.writeTextFile(
      join(setup.clientDir, "transfer.info"),
      `127.0.0.1:${port}\nResa\nbig.bin\n`,
    );
    setup.relay.budget = undefined;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...CLIENT_PERMISSION_FLAGS, CLIENT_MAIN, "--dir", setup.clientDir],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const { clientId } = parseMeInfo(await Deno.readTextFile(join(setup.clientDir, "me.info")));
    const folder = join(setup.serverDir, "received_files", clientIdToHex(clientId));
    const stagedSize = async () => {
      for await (const entry of Deno.readDir(folder)) {
        if (entry.name.endsWith(".partial")) {
          return (await Deno.stat(join(folder, entry.name))).size;
        }
      }
      return 0;
    };
    try {
      await waitUntil(
        "the server to stage some of the upload",
        async () => await stagedSize() > SIZE,
      );
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
    // A restart: the kept bytes are neither removed nor forgotten.
    await setup.server.close();
    setup.server = await startServer({ host: "127.0.0.1", port, securePort, dir: setup.serverDir });
    assert.ok(await stagedSize() > 0, "the kept bytes survived the restart");
    const rerun = await send(setup, "big.bin");
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stdout, /resumed after the [\d.]+ MB it had kept/);
    assert.ok(setup.relay.sent < contents.length, `the rerun sent ${setup.relay.sent} bytes`);
    assert.deepEqual(await storedFile(setup, "big.bin"), contents);
  });
});

Deno.test("what a cut upload kept is shown to the operator, counts against the quota, and expires", async () => {
  await withSetup({ partialTtlMs: 3000, maxStoredBytes: SIZE + 2_000_000 }, async (setup) => {
    const whole = await measureWholeRun(setup); // stores SIZE bytes, within the quota
    await Deno.remove(join(setup.serverDir, "received_files"), { recursive: true }).catch(() => {});
    await using operator = await openOperatorStorage(setup.serverDir);
    await operator.registry.forgetClient("Resa"); // a fresh client, the same folder and pin
    await Deno.remove(join(setup.clientDir, "me.info"));
    await Deno.remove(join(setup.clientDir, "priv.key"));
    await Deno.writeFile(join(setup.clientDir, "kept.bin"), patternBytes(SIZE, 41));
    setup.relay.budget = whole - SIZE / 2;
    assert.equal((await send(setup, "kept.bin")).code, 3);
    setup.relay.budget = undefined;
    // The server notices the cut on its side, then records what it kept.
    await waitUntil("the server to record what it kept", async () => {
      const [client] = await clientRows(operator.registry);
      return client !== undefined && client.partialBytes > SIZE / 4;
    });
    const [row] = await clientRows(operator.registry);
    assert.ok(row !== undefined, "the client is listed");
    assert.equal(row.bytes, 0);

    // Another file that fits the quota alone, but not beside what was kept.
    await Deno.writeFile(join(setup.clientDir, "other.bin"), patternBytes(SIZE, 42));
    const refused = await send(setup, "other.bin");
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /past the [\d.]+ MB you may store/);

    await waitUntil("what was kept to expire", async () => {
      const [client] = await clientRows(operator.registry);
      return client?.partialBytes === 0;
    });
    const folder = join(setup.serverDir, "received_files");
    const left = [];
    for await (const entry of Deno.readDir(folder)) {
      for await (const file of Deno.readDir(join(folder, entry.name))) left.push(file.name);
    }
    assert.deepEqual(left, [], "the kept bytes are removed with their record");
    const now = await send(setup, "other.bin");
    assert.equal(now.code, 0, now.stderr);
  });
});

Deno.test("after an interruption at half of a 200 MB file, the rerun sends less than 60 % of its bytes, and the stored file is identical", async () => {
  await withSetup({}, async (setup) => {
    const size = 200 * 1000 * 1000;
    const path = join(setup.clientDir, "200mb.bin");
    {
      using file = await Deno.open(path, { write: true, create: true });
      const piece = patternBytes(1024 * 1024, 51);
      for (let written = 0; written < size; written += piece.length) {
        const part = piece.subarray(0, Math.min(piece.length, size - written));
        part[0] = written & 0xff; // no two pieces alike
        let done = 0;
        while (done < part.length) done += await file.write(part.subarray(done));
      }
    }
    setup.relay.budget = size / 2;
    assert.equal((await send(setup, "200mb.bin")).code, 3);
    await waitForKept(setup, "200mb.bin");
    setup.relay.budget = undefined;
    const rerun = await send(setup, "200mb.bin");
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.ok(setup.relay.sent < 0.6 * size, `the rerun sent ${setup.relay.sent} of ${size} bytes`);
    const { clientId } = parseMeInfo(await Deno.readTextFile(join(setup.clientDir, "me.info")));
    const stored = join(setup.serverDir, "received_files", clientIdToHex(clientId), "200mb.bin");
    assert.equal(await fileSha256(stored), await fileSha256(path));
  });
});
