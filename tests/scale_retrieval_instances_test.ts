/**
 * Issue 21 on PostgreSQL + S3 behind HAProxy: two instances share the
 * registry, the bucket and the deployment's identity; our real client lists
 * and fetches through the balancer, whichever instance answers; a download
 * cut mid-way continues through the other instance with a ranged object
 * read (the instance that served its first part killed); another identity
 * sees none of the files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256Hex } from "../protocol/mod.ts";
import { freePort } from "../scripts/services/daemon.ts";
import { patternBytes, runClient, writeTransferInfo } from "./support/client_process.ts";
import { cuttingRelay } from "./support/cutting_relay.ts";
import { ignoreWithoutServices } from "./support/services.ts";
import { ScaleDeployment, type ScaleInstance } from "./support/scale_deployment.ts";

const BUCKET = "retrieval-instances";

/** How often `pattern` matches an instance's log so far. */
function count(instance: ScaleInstance, pattern: RegExp): number {
  return [...instance.process.stderr.matchAll(new RegExp(pattern, "g"))].length;
}

Deno.test({
  name: "retrieval behind HAProxy: two instances on PostgreSQL and S3 list and fetch alike",
  ignore: ignoreWithoutServices("retrieval behind HAProxy", ["postgres", "s3", "haproxy"]),
  async fn(t) {
    await using deployment = await ScaleDeployment.start({
      prefix: "scale_retrieval_",
      bucket: BUCKET,
      database: "retrieval",
    });
    const { root, instances } = deployment;
    const publicSecurePort = freePort();
    await deployment.startInstances(["a", "b"], () => [
      "--port",
      "0",
      "--secure-port",
      "0",
      "--public-secure-port",
      String(publicSecurePort),
    ]);
    const lb = await deployment.balance({ securePort: publicSecurePort });
    const clientDir = join(root, "client");
    const files: Record<string, Uint8Array> = {
      "empty.bin": new Uint8Array(0),
      "one.bin": new Uint8Array([7]),
      "big.bin": patternBytes(12 * 1024 * 1024, 21),
    };
    await writeTransferInfo(clientDir, lb.port, "Fetcher", "empty.bin");
    for (const [name, data] of Object.entries(files)) {
      await Deno.writeFile(join(clientDir, name), data);
    }
    const sent = await runClient(
      ["--dir", clientDir, ...Object.keys(files).map((n) => join(clientDir, n))],
    );
    assert.equal(sent.code, 0, sent.stderr);

    await t.step("every run lists the same files, whichever instance answers", async () => {
      for (let run = 0; run < 4; run++) {
        const list = await runClient(["--dir", clientDir, "--list", "--json"]);
        assert.equal(list.code, 0, list.stderr);
        const names = (JSON.parse(list.stdout) as { files: Array<{ name: string }> }).files
          .map((f) => f.name);
        assert.deepEqual(names, ["big.bin", "empty.bin", "one.bin"]);
      }
    });

    await t.step("whichever instance answers, the files come back byte for byte", async () => {
      const sentBy = () => instances.map((i) => count(i, /Sent big\.bin/));
      for (let run = 0; run < 8 && sentBy().some((n) => n === 0); run++) {
        const to = join(root, `fetched-${run}`);
        const got = await runClient(
          ["--dir", clientDir, "--get", ...Object.keys(files), "--to", to],
        );
        assert.equal(got.code, 0, got.stderr);
        for (const [name, data] of Object.entries(files)) {
          assert.deepEqual(await Deno.readFile(join(to, name)), data, name);
        }
      }
      assert.ok(sentBy().every((n) => n > 0), `one instance served every run: ${sentBy()}`);
    });

    await t.step(
      "a download cut on one instance continues on the other (ranged read)",
      async () => {
        const to = join(root, "cut");
        // The balancer's secure port through a relay that cuts after 3 MB.
        const known = join(clientDir, "known_servers");
        const pinned = await Deno.readTextFile(known);
        const relay = cuttingRelay(publicSecurePort, 3 * 1024 * 1024);
        const before = instances.map((i) => count(i, /Reconnected Fetcher/));
        try {
          await Deno.writeTextFile(
            known,
            pinned.replace(` ${publicSecurePort} `, ` ${relay.port} `),
          );
          const cut = await runClient(["--dir", clientDir, "--get", "big.bin", "--to", to]);
          assert.equal(cut.code, 3, cut.stderr);
        } finally {
          await Deno.writeTextFile(known, pinned);
          await relay.close();
        }
        const victim = instances.find((i, n) => count(i, /Reconnected Fetcher/) > before[n]!);
        assert.ok(victim !== undefined, "no instance served the cut download");
        const survivor = instances.find((i) => i !== victim)!;
        victim.process.child.kill("SIGKILL");
        await victim.process.wait();
        const rerun = await runClient(["--dir", clientDir, "--get", "big.bin", "--to", to]);
        assert.equal(rerun.code, 0, rerun.stderr);
        assert.match(rerun.stdout, /continued from byte [1-9]\d*/);
        assert.match(survivor.process.stderr, /Sent big\.bin: .* from byte [1-9]\d*/);
        assert.equal(
          sha256Hex(await Deno.readFile(join(to, "big.bin"))),
          sha256Hex(files["big.bin"]!),
        );
      },
    );

    await t.step("another identity sees none of them and cannot fetch them", async () => {
      const otherDir = join(root, "other");
      await writeTransferInfo(otherDir, lb.port, "Stranger", "x.bin", new Uint8Array(1));
      const registered = await runClient(["--dir", otherDir]);
      assert.equal(registered.code, 0, registered.stderr);
      const list = await runClient(["--dir", otherDir, "--list", "--json"]);
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(
        (JSON.parse(list.stdout) as { files: Array<{ name: string }> }).files.map((f) => f.name),
        ["x.bin"],
      );
      const get = await runClient(
        ["--dir", otherDir, "--get", "big.bin", "--to", join(root, "stolen")],
      );
      assert.equal(get.code, 4, get.stderr);
      assert.match(get.stderr, /the server holds no file of that name/);
    });
  },
});
