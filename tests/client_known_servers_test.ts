import assert from "node:assert/strict";
import { join } from "node:path";
import { ClientError } from "../client/client_error.ts";
import {
  findKnownServer,
  formatKnownServer,
  KNOWN_SERVERS,
  type KnownServer,
  loadKnownServers,
  parseKnownServers,
  pinServer,
} from "../client/known_servers.ts";
import {
  certificateFingerprint,
  formatFingerprint,
  formatFingerprintHex,
} from "../protocol/fingerprint.ts";

const CERTIFICATE = crypto.getRandomValues(new Uint8Array(200));
const FINGERPRINT = await certificateFingerprint(CERTIFICATE);
const PIN = formatFingerprint(FINGERPRINT);
const B64 = btoa(String.fromCharCode(...CERTIFICATE));

Deno.test("known_servers lines read like known_hosts: comments, spaces, both fingerprint forms", () => {
  const text = [
    "# pinned servers",
    "",
    `127.0.0.1:1256 1257 ${PIN} ${B64}`,
    `Example.ORG:9000\t9001   ${formatFingerprintHex(FINGERPRINT)}`,
    `[::1]:1256 2000 ${PIN}\r`,
  ].join("\n");
  const entries = parseKnownServers(text, "known_servers");
  assert.equal(entries.length, 3);
  assert.deepEqual(entries[0], {
    host: "127.0.0.1",
    port: 1256,
    securePort: 1257,
    fingerprint: FINGERPRINT,
    certificate: CERTIFICATE,
    line: 3,
  });
  assert.equal(entries[1]!.certificate, undefined);
  assert.equal(findKnownServer(entries, "example.org", 9000)?.securePort, 9001);
  assert.equal(findKnownServer(entries, "::1", 1256)?.securePort, 2000);
  assert.equal(findKnownServer(entries, "example.org", 9001), undefined);
  assert.equal(formatKnownServer(entries[0]!), `127.0.0.1:1256 1257 ${PIN} ${B64}`);
  assert.equal(formatKnownServer(entries[2]!), `[::1]:1256 2000 ${PIN}`);
});

Deno.test("every known_servers error is a SyntaxError naming the file and the line", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["two fields", "127.0.0.1:1256 1257", /got 2 fields/],
    ["five fields", `127.0.0.1:1256 1257 ${PIN} ${B64} x`, /got 5 fields/],
    ["no port", `127.0.0.1 1257 ${PIN}`, /expected host:port/],
    ["secure port 0", `127.0.0.1:1256 0 ${PIN}`, /secure port "0"/],
    ["secure port 70000", `127.0.0.1:1256 70000 ${PIN}`, /secure port "70000"/],
    ["a short fingerprint", `127.0.0.1:1256 1257 ${PIN.slice(0, -2)}`, /fingerprint/],
    ["a certificate that is not Base64", `127.0.0.1:1256 1257 ${PIN} ***`, /not Base64/],
    ["the same server twice", `a:1 2 ${PIN}\nA:1 3 ${PIN}`, /a:1 is already pinned on line 2/],
  ];
  for (const [name, line, reason] of cases) {
    await t.step(name, () => {
      const text = `# header\n${line}\n`;
      assert.throws(() => parseKnownServers(text, "/x/known_servers"), (error: Error) => {
        assert.ok(error instanceof SyntaxError);
        const lineNumber = line.includes("\n") ? 3 : 2;
        assert.match(
          error.message,
          new RegExp(`^Cannot parse /x/known_servers line ${lineNumber}: `),
        );
        assert.match(error.message, reason);
        return true;
      });
    });
  }
});

Deno.test("loading checks each certificate against its fingerprint", async () => {
  const folder = await Deno.makeTempDir();
  try {
    assert.deepEqual((await loadKnownServers(folder)).entries, []);
    const other = crypto.getRandomValues(new Uint8Array(200));
    await Deno.writeTextFile(
      join(folder, KNOWN_SERVERS),
      `a:1 2 ${PIN} ${B64}\nb:1 2 ${PIN} ${btoa(String.fromCharCode(...other))}\n`,
    );
    await assert.rejects(() => loadKnownServers(folder), (error: Error) => {
      assert.ok(error instanceof ClientError);
      assert.equal(error.exitCode, 2);
      assert.match(error.message, /known_servers line 2: the certificate's fingerprint is SHA256:/);
      assert.match(error.message, /Fix or delete that line/);
      return true;
    });
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("pinning appends or replaces one line and keeps the rest as written", async () => {
  const folder = await Deno.makeTempDir();
  const path = join(folder, KNOWN_SERVERS);
  const entry: KnownServer = {
    host: "127.0.0.1",
    port: 1256,
    securePort: 1257,
    fingerprint: FINGERPRINT,
    certificate: CERTIFICATE,
  };
  try {
    await pinServer(folder, entry);
    const created = await Deno.readTextFile(path);
    assert.match(created, /^# /);
    assert.ok(created.endsWith(`127.0.0.1:1256 1257 ${PIN} ${B64}\n`));
    assert.deepEqual((await loadKnownServers(folder)).entries.map((e) => e.host), ["127.0.0.1"]);

    await Deno.writeTextFile(path, `# mine\nhost.example:1 2 ${PIN}\n127.0.0.1:1256 9 ${PIN}\n`);
    await pinServer(folder, entry);
    assert.equal(
      await Deno.readTextFile(path),
      `# mine\nhost.example:1 2 ${PIN}\n127.0.0.1:1256 1257 ${PIN} ${B64}\n`,
    );
    const { certificate: _, ...withoutCertificate } = entry;
    await pinServer(folder, { ...withoutCertificate, host: "Other.example" });
    const lines = (await Deno.readTextFile(path)).trimEnd().split("\n");
    assert.equal(lines.length, 4);
    assert.equal(lines[3], `other.example:1256 1257 ${PIN}`);
    assert.deepEqual([...Deno.readDirSync(folder)].map((e) => e.name), [KNOWN_SERVERS]);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});
