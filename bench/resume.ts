/**
 * Resume, measured (`deno task bench:resume`): a 200 MB upload over the
 * secure mode is cut at half (a relay in front of the secure port stops
 * passing bytes), the server is restarted, and the client's rerun resumes it.
 * Printed: how many bytes the rerun sent (the target: less than 60 % of the
 * file), whether the stored file is identical, and the server's peak memory
 * during the resumed upload beside a whole upload of the same size on a fresh
 * server (memory stays flat: reading the kept half back to hash it goes
 * through one 1 MiB buffer).
 *
 * The same measurement is asserted, in bytes, by
 * tests/transfer_resume_test.ts.
 *
 * @module
 */

import { join } from "node:path";
import { countingRelay } from "../harness/counting_relay.ts";
import { fileSha256 } from "../harness/file_sha256.ts";
import { startBenchServer, timeClient } from "./support/bench_processes.ts";
import { formatMb, formatSeconds } from "./support/process_monitor.ts";
import { writeRandomFile } from "./support/random_file.ts";

const SIZE = 200 * 1000 * 1000;

async function writeInfo(dir: string, port: number, file: string): Promise<void> {
  await Deno.writeTextFile(join(dir, "transfer.info"), `127.0.0.1:${port}\nResumer\n${file}\n`);
}

async function waitFor(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Cannot benchmark: no ${what} within 60 s`);
}

const scratch = await Deno.makeTempDir({ prefix: "resume-bench-" });
try {
  const serverDir = join(scratch, "server");
  const clientDir = join(scratch, "client");
  await Deno.mkdir(clientDir, { recursive: true });
  const path = join(clientDir, "200mb.bin");
  await writeRandomFile(path, SIZE);
  await Deno.writeTextFile(join(clientDir, "seed.bin"), "seed");

  // A fixed secure port, so the pin (rewritten to the relay) holds across the restart.
  let server = await startBenchServer(serverDir);
  const securePort = server.securePort!;
  const port = server.port;
  await writeInfo(clientDir, port, "seed.bin");
  const pinned = await timeClient(["--dir", clientDir, "--quiet", "--no-wait"]);
  if (pinned.code !== 0) throw new Error(`Cannot benchmark: ${pinned.stderr}`);
  const relay = countingRelay(securePort);
  const pins = join(clientDir, "known_servers");
  await Deno.writeTextFile(
    pins,
    (await Deno.readTextFile(pins)).replace(` ${securePort} `, ` ${relay.port} `),
  );

  await writeInfo(clientDir, port, "200mb.bin");
  relay.budget = SIZE / 2;
  const cut = await timeClient(["--dir", clientDir, "--quiet", "--no-wait", "--retries", "0"]);
  if (cut.code !== 3) throw new Error(`Cannot benchmark: the cut run ended ${cut.code}`);
  await waitFor("kept bytes", () => /Kept [\d.]+ MB of 200mb\.bin/.test(server.process.stderr));
  const kept = /Kept ([\d.]+ MB) of 200mb\.bin/.exec(server.process.stderr)![1]!;
  await server.stop();

  // The restarted server resumes what the first one kept.
  server = await startBenchServer(serverDir, [
    "--port",
    String(port),
    "--secure-port",
    String(securePort),
  ]);
  relay.budget = undefined;
  relay.reset();
  const rerun = await timeClient(["--dir", clientDir, "--quiet", "--no-wait"]);
  if (rerun.code !== 0) throw new Error(`Cannot benchmark: the rerun failed: ${rerun.stderr}`);
  const resumedPeak = server.monitor.stop().peakRssBytes;
  const sent = relay.sent;
  await server.stop();
  await relay.close();
  const [clientFolder] = await Array.fromAsync(Deno.readDir(join(serverDir, "received_files")));
  const stored = join(serverDir, "received_files", clientFolder!.name, "200mb.bin");
  const identical = await fileSha256(stored) === await fileSha256(path);

  // The same file whole, on a fresh server, for its peak memory.
  const fresh = await startBenchServer(join(scratch, "fresh"));
  const freshClient = join(scratch, "fresh-client");
  await Deno.mkdir(freshClient);
  await Deno.copyFile(path, join(freshClient, "200mb.bin"));
  await writeInfo(freshClient, fresh.port, "200mb.bin");
  const whole = await timeClient(["--dir", freshClient, "--quiet", "--no-wait"]);
  if (whole.code !== 0) throw new Error(`Cannot benchmark: the whole upload failed`);
  const wholePeak = fresh.monitor.stop().peakRssBytes;
  await fresh.stop();

  const percent = (100 * sent / SIZE).toFixed(1);
  console.log(`Resume of a ${SIZE / 1e6} MB upload cut at half, after a server restart:`);
  console.log(`  kept by the server at the cut:   ${kept}`);
  console.log(
    `  sent by the rerun:               ${(sent / 1e6).toFixed(1)} MB, ${percent} % of the ` +
      `file (target: less than 60 %) ${sent < 0.6 * SIZE ? "ok" : "NOT MET"}`,
  );
  console.log(`  stored file identical:           ${identical ? "yes" : "NO"}`);
  console.log(`  rerun time:                      ${formatSeconds(rerun.seconds)}`);
  console.log(
    `  server peak memory, resumed:     ${formatMb(resumedPeak)} ` +
      `(a whole upload of the file: ${formatMb(wholePeak)})`,
  );
  console.log(`  client peak memory, resumed:     ${formatMb(rerun.figures.peakRssBytes)}`);
  if (!identical || sent >= 0.6 * SIZE) Deno.exitCode = 1;
} finally {
  await Deno.remove(scratch, { recursive: true });
}
