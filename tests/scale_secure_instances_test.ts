/**
 * The secure mode behind HAProxy (issue 19): two instances share a
 * PostgreSQL registry, an S3 bucket (Ceph's gateway) and the deployment's
 * one identity; HAProxy forwards the plain port and the secure port (TLS
 * passed through in TCP mode), and the instances advertise the balancer's
 * secure port (`--public-secure-port`). All real processes on 127.0.0.1, our
 * real client:
 *
 * - both instances present the deployment's certificate and advertise the
 *   balancer's secure port; the client pins the balancer, never an instance;
 * - a client's later runs land on either instance and are recognised;
 * - an instance killed mid-upload: the client's next run completes through
 *   the other;
 * - an upload cut mid-way is kept (S3 parts, PostgreSQL record) and resumed
 *   by the other instance;
 * - an instance whose identity differs is refused, with the README's line;
 * - the reference client (its recorded sessions) on the plain port through
 *   HAProxy.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { writeAll } from "../common/write_all.ts";
import { clientIdToHex } from "../protocol/mod.ts";
import {
  decodeDiscoveryResponse,
  DISCOVERY_RESPONSE_CODE,
  encodeDiscoveryRequest,
} from "../protocol/discovery.ts";
import { freePort } from "../scripts/services/daemon.ts";
import { patternBytes, runClient, writeTransferInfo } from "./support/client_process.ts";
import { readFixture } from "./support/golden_session.ts";
import { replay } from "./support/golden_replay.ts";
import { waitUntil } from "./support/reliability.ts";
import { runServerCommand } from "./support/server_command.ts";
import { countingRelay } from "../harness/counting_relay.ts";
import { ServerProcess } from "./support/server_process.ts";
import { ignoreWithoutServices } from "./support/services.ts";
import { ScaleDeployment, type ScaleInstance } from "./support/scale_deployment.ts";

const BUCKET = "secure-instances";

/** The ports an instance listens on: any free ones, or those of the instance it restarts. */
interface Ports {
  port: number;
  securePort?: number | undefined;
  httpPort?: number | undefined;
}

/** An instance's arguments besides `--host` and the storage: `ports`, advertising the balancer's. */
function instanceArgs(publicSecurePort: number, ports: Ports = { port: 0 }): string[] {
  return [
    "--http",
    `127.0.0.1:${ports.httpPort ?? 0}`,
    "--port",
    String(ports.port),
    "--secure-port",
    String(ports.securePort ?? 0),
    "--public-secure-port",
    String(publicSecurePort),
  ];
}

/** The fingerprint an instance logged at start-up. */
function fingerprintOf(instance: ScaleInstance): string {
  const match = /certificate fingerprint (SHA256:\S+)/.exec(instance.process.stderr);
  assert.ok(match !== null, instance.process.stderr);
  return match[1]!;
}

/** How often `text` appears in an instance's log so far. */
function mentions(instance: ScaleInstance, text: string): number {
  return instance.process.stderr.split(text).length - 1;
}

/** The discovery answer of the plain port `port`. */
async function discover(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(conn, encodeDiscoveryRequest());
    const bytes = new Uint8Array(8192);
    let length = 0;
    const view = new DataView(bytes.buffer);
    while (length < 7 || length < 7 + view.getUint32(3, true)) {
      const n = await conn.read(bytes.subarray(length));
      assert.ok(n !== null, "the server closed before answering");
      length += n;
    }
    assert.equal(view.getUint16(1, true), DISCOVERY_RESPONSE_CODE);
    return decodeDiscoveryResponse(bytes.subarray(7, length));
  } finally {
    conn.close();
  }
}

/** Runs `server ARGS` (an operator command) in `cwd`, with `env` added. */
function serverCommand(cwd: string, env: Record<string, string>, ...args: string[]) {
  return runServerCommand(args, { cwd, env });
}

/** Starts an instance that must refuse to start; returns its exit code and stderr. */
async function refusedStart(
  dir: string,
  deployment: ScaleDeployment,
  publicSecurePort: number,
  extra: string[] = [],
): Promise<{ code: number; stderr: string }> {
  const args = deployment.serverArgs([...instanceArgs(publicSecurePort), ...extra]);
  const server = ServerProcess.spawn(dir, args, { env: deployment.env });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const status = await Promise.race([
    server.wait(),
    new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), 30_000)),
  ]);
  clearTimeout(timer);
  if (status === undefined) {
    await server.stop("SIGKILL");
    assert.fail(`the instance started instead of refusing:\n${server.stderr}`);
  }
  return { code: status.code, stderr: server.stderr };
}

Deno.test({
  name: "the secure mode behind HAProxy: one identity, the balancer's secure port, any instance",
  ignore: ignoreWithoutServices("the secure mode behind HAProxy", ["postgres", "s3", "haproxy"]),
  async fn(t) {
    await using deployment = await ScaleDeployment.start({
      prefix: "scale_secure_",
      bucket: BUCKET,
      database: "secure",
    });
    const { root, instances } = deployment;
    const publicSecurePort = freePort();
    const args = (ports?: Ports) => instanceArgs(publicSecurePort, ports);
    // Both start at once: the first to record the identity wins, the other takes it.
    await deployment.startInstances(["a", "b"], () => args(), { together: true });
    const lbPort = (await deployment.balance({ securePort: publicSecurePort })).port;

    await t.step(
      "both instances present one certificate and name the balancer's secure port",
      async () => {
        assert.equal(fingerprintOf(instances[0]!), fingerprintOf(instances[1]!));
        for (const instance of instances) {
          assert.match(instance.process.stderr, /Secure mode identity: the deployment's/);
          assert.doesNotMatch(instance.process.stderr, /\[WRN\]/);
          assert.equal((await discover(instance.port)).securePort, publicSecurePort);
        }
        assert.equal((await discover(lbPort)).securePort, publicSecurePort);
        const shown = await serverCommand(
          root,
          {},
          "fingerprint",
          "--registry",
          deployment.registryUrl,
        );
        assert.equal(shown.code, 0, shown.stderr);
        assert.equal(shown.stdout.split("\n")[0], fingerprintOf(instances[0]!));
        // No instance wrote an identity of its own: the deployment's lives in the registry.
        for (const instance of instances) {
          await assert.rejects(Deno.stat(join(instance.dir, "server_identity.pem")));
        }
      },
    );

    const clientDir = join(root, "client");
    await writeTransferInfo(clientDir, lbPort, "Roamer", "small.bin", patternBytes(50_000));

    await t.step("a client's later runs land on either instance and are recognised", async () => {
      const first = await runClient(["--dir", clientDir]);
      assert.equal(first.code, 0, first.stderr);
      assert.match(first.stderr, /pinned/);
      const pin = (await Deno.readTextFile(join(clientDir, "known_servers"))).split("\n")
        .find((line) => line.startsWith("127.0.0.1:"));
      assert.ok(pin !== undefined);
      assert.equal(
        pin.split(" ").slice(0, 3).join(" "),
        `127.0.0.1:${lbPort} ${publicSecurePort} ${fingerprintOf(instances[0]!)}`,
      );
      const reconnects = () => instances.map((i) => mentions(i, "Reconnected Roamer"));
      let runs = 0;
      for (; runs < 8 && reconnects().some((n) => n === 0); runs++) {
        // --force: each run uploads again (the file is "already stored" after the first).
        const later = await runClient(["--dir", clientDir, "--force"]);
        assert.equal(later.code, 0, later.stderr);
        assert.doesNotMatch(later.stderr, /registered|pinned|registering/);
      }
      assert.ok(
        reconnects().every((n) => n > 0),
        `runs served by one instance only: ${reconnects()}`,
      );
      // Each instance's metrics count what it stored; together, every run's upload.
      let stored = 0;
      for (const instance of instances) {
        const response = await fetch(`http://127.0.0.1:${instance.httpPort}/metrics`);
        const text = await response.text();
        stored += Number(/^ft_uploads_stored_total (\d+)$/m.exec(text)?.[1]);
        assert.match(text, /^ft_storage_seconds_count\{operation="store\.begin"\} [1-9]/m);
      }
      assert.equal(stored, runs + 1);
      for (const instance of instances) {
        assert.match(
          instance.process.stderr,
          /Roamer \([0-9a-f]+\) proved it holds its private key/,
        );
      }
    });

    await t.step(
      "an instance killed mid-upload: the client's next run completes through the other",
      async () => {
        const size = 40 * 1024 * 1024;
        const dir = join(root, "big");
        await writeTransferInfo(dir, lbPort, "Survivor", "big.bin", patternBytes(size, 7));
        const registered = await runClient([
          "--dir",
          dir,
          "--no-wait",
          join(clientDir, "small.bin"),
        ]);
        assert.equal(registered.code, 0, registered.stderr);
        const before = instances.map((i) => mentions(i, "Reconnected Survivor"));
        const running = runClient(["--dir", dir, "--retries", "0"]);
        await waitUntil(
          "an instance to take the upload",
          async () =>
            instances.some((instance, i) =>
              mentions(instance, "Reconnected Survivor") > before[i]!
            ) && await deployment.stagedUploads() > 0,
          30_000,
        );
        const victim = instances.find((instance, i) =>
          mentions(instance, "Reconnected Survivor") > before[i]!
        )!;
        const survivor = instances.find((instance) => instance !== victim)!;
        victim.process.child.kill("SIGKILL");
        await victim.process.wait();
        const cut = await running;
        assert.equal(cut.code, 3, cut.stderr);
        const next = await runClient(["--dir", dir]);
        assert.equal(next.code, 0, next.stderr);
        assert.match(survivor.process.stderr, /big\.bin confirmed by the client/);
        assert.doesNotMatch(next.stderr, /pinned|registered/);
        const key = `${/id ([0-9a-f]{32})/.exec(registered.stderr)?.[1]}/big.bin`;
        assert.equal(await deployment.objectSize(key), size);
        // The victim comes back on its ports, with the deployment's identity.
        const back = await deployment.startInstance(victim.name, args(victim));
        assert.equal(fingerprintOf(back), fingerprintOf(survivor));
      },
    );

    await t.step(
      "a cut upload is resumed by the other instance: less than 60 % sent again, the object identical",
      async () => {
        const size = 40 * 1024 * 1024;
        const contents = patternBytes(size, 9);
        const dir = join(root, "resume");
        await writeTransferInfo(dir, lbPort, "Resumer", "big.bin", contents);
        const registered = await runClient([
          "--dir",
          dir,
          "--no-wait",
          join(clientDir, "small.bin"),
        ]);
        assert.equal(registered.code, 0, registered.stderr);
        // The pinned secure port goes through a relay that can cut the upload.
        const relay = countingRelay(publicSecurePort);
        try {
          const pins = join(dir, "known_servers");
          await Deno.writeTextFile(
            pins,
            (await Deno.readTextFile(pins)).replace(
              ` ${publicSecurePort} `,
              ` ${relay.port} `,
            ),
          );
          // S3 keeps whole parts (5 MiB): cut past the half, the rerun sends less than 60 %.
          relay.budget = Math.floor(size * 0.65);
          const cut = await runClient(["--dir", dir, "--retries", "0"]);
          assert.equal(cut.code, 3, cut.stderr);
          const kept = /Kept [\d.]+ MB of big\.bin/;
          await waitUntil(
            "an instance to keep the cut upload",
            () => instances.some((instance) => kept.test(instance.process.stderr)),
          );
          const keeper = instances.find((instance) => kept.test(instance.process.stderr))!;
          const other = instances.find((instance) => instance !== keeper)!;
          await keeper.process.stop(); // the other instance must continue it
          relay.budget = undefined;
          relay.reset();
          const rerun = await runClient(["--dir", dir]);
          assert.equal(rerun.code, 0, rerun.stderr);
          assert.match(rerun.stdout, /resumed after the [\d.]+ MB it had kept/);
          assert.match(other.process.stderr, /big\.bin: resuming after the \d+ bytes kept/);
          assert.ok(relay.sent < 0.6 * size, `the rerun sent ${relay.sent} of ${size} bytes`);
          const key = `${/id ([0-9a-f]{32})/.exec(registered.stderr)?.[1]}/big.bin`;
          assert.deepEqual(await deployment.readObject(key), contents);
          await deployment.startInstance(keeper.name, args(keeper));
        } finally {
          await relay.close();
        }
      },
    );

    await t.step(
      "an instance whose identity differs is refused, with the README's line",
      async () => {
        // An older instance's own server_identity.pem in its folder.
        const stray = join(root, "stray");
        await Deno.mkdir(stray);
        const made = await serverCommand(stray, {}, "identity", "server_identity.pem");
        assert.equal(made.code, 0, made.stderr);
        const own = await refusedStart(stray, deployment, publicSecurePort);
        assert.equal(own.code, 1, own.stderr);
        const line = own.stderr.trim().split("\n").at(-1)!;
        assert.match(
          line,
          /^Cannot start with the identity SHA256:\S+ \(.*server_identity\.pem\): the deployment sharing this registry presents SHA256:\S+\. To fix it, move .*server_identity\.pem away to take the deployment's identity; or make this one the deployment's with: server rotate-identity /,
        );
        assert.ok(line.includes(fingerprintOf(instances[0]!)), line);
        // An operator's --identity file that is not the deployment's.
        const other = join(root, "other");
        await Deno.mkdir(other);
        assert.equal((await serverCommand(other, {}, "identity", "other.pem")).code, 0);
        const given = await refusedStart(other, deployment, publicSecurePort, [
          "--identity",
          join(other, "other.pem"),
        ]);
        assert.equal(given.code, 1, given.stderr);
        assert.match(given.stderr, /give --identity the deployment's file/);
        // Moved away, as the line says: the instance starts with the deployment's identity.
        await Deno.rename(join(stray, "server_identity.pem"), join(stray, "old_identity.pem"));
        const fixed = await deployment.startOutside("stray", args());
        try {
          assert.equal(fingerprintOf(fixed), fingerprintOf(instances[0]!));
        } finally {
          await fixed.process.stop();
        }
      },
    );

    await t.step(
      "the reference client's sessions on the plain port through HAProxy",
      async () => {
        const sample = await readFixture("sample.bin");
        const block16 = await readFixture("block16.bin");
        const id = await replay(lbPort, "s1-register", "s1-priv.key", { "sample.bin": sample });
        const id2 = await replay(
          lbPort,
          "s2-reconnect",
          "s1-priv.key",
          { "block16.bin": block16 },
          id,
        );
        assert.deepEqual(id2, id);
        assert.equal(
          await deployment.objectSize(`${clientIdToHex(id)}/sample.bin`),
          sample.length,
        );
        assert.equal(
          await deployment.objectSize(`${clientIdToHex(id)}/block16.bin`),
          block16.length,
        );
      },
    );

    await t.step(
      "rotation: a new deployment identity, instances restarted, clients re-pin",
      async () => {
        const env = { FT_REGISTRY_URL: deployment.registryUrl };
        const rotated = await serverCommand(root, env, "rotate-identity");
        assert.equal(rotated.code, 0, rotated.stderr);
        const fingerprint = rotated.stdout.split("\n")[0]!;
        assert.notEqual(fingerprint, fingerprintOf(instances[0]!));
        assert.match(rotated.stdout, /Restart every instance/);
        const shown = await serverCommand(root, env, "fingerprint");
        assert.equal(shown.stdout.split("\n")[0], fingerprint);
        for (const instance of instances) {
          await instance.process.stop();
          const back = await deployment.startInstance(instance.name, args(instance));
          assert.equal(fingerprintOf(back), fingerprint);
        }
        const refused = await runClient(["--dir", clientDir]);
        assert.equal(refused.code, 4, refused.stderr);
        assert.ok(refused.stderr.includes(fingerprint), refused.stderr);
        const repinned = await runClient(["--dir", clientDir, "--pin", fingerprint]);
        assert.equal(repinned.code, 0, repinned.stderr);
      },
    );
  },
});
