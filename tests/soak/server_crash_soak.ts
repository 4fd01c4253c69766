/**
 * Soak run for issue 7, too long for CI: the server SIGKILLed in the middle
 * of a full 800 MB upload, at a different point each round, then restarted.
 * After every restart: no file under the final name, no temporary file, the
 * client reconnects (827) and a whole 800 MB upload is kept.
 *
 * It asserts behaviour with the test helpers, so it lives with the tests (not
 * in `scripts/`: nothing outside `tests/` imports `tests/`); its name has no
 * `_test` suffix, so `deno task test` does not run it.
 *
 * ```text
 * deno task soak [--rounds N]
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import {
  clientIdToHex,
  DEFAULT_MAX_FILE_SIZE,
  RequestCode,
  ResponseCode,
} from "../../protocol/mod.ts";
import { RawClient, signUp, uploadStream } from "../../harness/raw_client.ts";
import { sizeOf, temporaryFiles, waitUntil } from "../support/reliability.ts";
import { ServerProcess } from "../support/server_process.ts";

const LOCAL = ["--port", "0", "--host", "127.0.0.1"];
const SIZE = DEFAULT_MAX_FILE_SIZE;

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`Soak failed: ${message}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ args: Deno.args, options: { rounds: { type: "string" } } });
  const rounds = Number(values.rounds ?? 3);
  const dir = await Deno.makeTempDir({ prefix: "soak_" });
  try {
    let server = await ServerProcess.start(dir, LOCAL);
    let identity: Awaited<ReturnType<typeof signUp>>;
    {
      using client = await RawClient.connect(server.port);
      identity = await signUp(client, "Soak Client");
    }
    const folder = join(dir, "received_files", clientIdToHex(identity.clientId));
    for (let round = 1; round <= rounds; round++) {
      const killAt = Math.floor(SIZE * (round / (rounds + 1)));
      using client = await RawClient.connect(server.port);
      const aesKey = await client.reconnect(
        identity.clientId,
        identity.name,
        identity.keys.privateKey,
      );
      const { frames } = uploadStream(identity.clientId, aesKey, `round${round}.bin`, SIZE);
      const sending = (async () => {
        for await (const piece of frames) await client.send(piece);
      })();
      sending.catch(() => {});
      await waitUntil(
        `${killAt} bytes on disk`,
        async () => {
          const temps = await temporaryFiles(folder).catch(() => []);
          return temps.length === 1 && await sizeOf(join(folder, temps[0]!)) >= killAt;
        },
        600_000,
        5,
      );
      await server.stop("SIGKILL");
      console.log(`round ${round}: killed the server at ${(killAt / 1e6).toFixed(0)} MB`);

      server = await ServerProcess.start(dir, LOCAL);
      check((await temporaryFiles(folder)).length === 0, "a temporary file survived the restart");
      check(await sizeOf(join(folder, `round${round}.bin`)) === 0, "the killed upload was kept");

      using again = await RawClient.connect(server.port);
      const key = await again.reconnect(identity.clientId, identity.name, identity.keys.privateKey);
      const started = performance.now();
      const upload = uploadStream(identity.clientId, key, `round${round}.bin`, SIZE);
      const answer = again.expect(ResponseCode.FileReceived);
      for await (const piece of upload.frames) await again.send(piece);
      const received = (await answer).response as { cksum: number };
      check(received.cksum === await upload.cksum, "the cksum of the full upload differs");
      await again.request(identity.clientId, { code: RequestCode.CrcOk, fileName: "x" });
      await again.expect(ResponseCode.Ack);
      check(await sizeOf(join(folder, `round${round}.bin`)) === SIZE, "the full upload is short");
      const seconds = (performance.now() - started) / 1000;
      const rss = await server.peakRss();
      console.log(
        `round ${round}: restarted; full upload kept in ${seconds.toFixed(1)} s` +
          (rss === undefined ? "" : `, server peak RSS ${(rss / 1e6).toFixed(0)} MB`),
      );
      await Deno.remove(join(folder, `round${round}.bin`));
    }
    const status = await server.stop();
    check(status.code === 0, `the server exited with ${status.code}`);
    console.log(`soak passed: ${rounds} rounds`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await main();
