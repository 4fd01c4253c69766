/**
 * The server's command line, parsed and reported without a process: sizes
 * with units, why a value is refused, which options go with which command,
 * and that a bug is told apart from an expected failure.
 */

import assert from "node:assert/strict";
import { MAX_ENCODABLE_FILE_SIZE } from "../protocol/mod.ts";
import { formatBytes, parseByteSize } from "../common/units.ts";
import { parseCommandLine, parseMaxFileSize, UsageError } from "../server/cli/command_line.ts";
import { describeFailure, ExitCode } from "../server/cli/report.ts";
import { DataFolderError, PortInUseError, RegistryError } from "../server/errors.ts";

Deno.test("server command line: --max-file-size accepts decimal and binary units", async (t) => {
  for (
    const [text, size] of [
      ["800MB", 800_000_000],
      ["800M", 800_000_000],
      ["1.5GB", 1_500_000_000],
      ["1.5 gb", 1_500_000_000],
      ["512MiB", 512 * 1024 * 1024],
      ["1KiB", 1024],
      ["2kB", 2000],
      ["1000000", 1_000_000],
      ["0", 0],
      ["17B", 17],
    ] as const
  ) {
    await t.step(text, () => assert.equal(parseMaxFileSize(text), size));
  }
});

Deno.test("server command line: --max-file-size says why a value is refused", async (t) => {
  for (
    const [text, reason] of [
      ["5T", /"T" is not a unit: use B, kB, MB, GB, KiB, MiB or GiB/],
      ["lots", /"lots" is not a size: write a number with an optional unit, such as 800MB/],
      ["-5MB", /is not a size/],
      ["1.5", /"1.5" is not a whole number of bytes/],
      ["5GB", /the protocol's 4-byte size fields carry files up to 4.3 GB \(4294967279 bytes\)/],
    ] as const
  ) {
    await t.step(text, () => {
      assert.throws(() => parseMaxFileSize(text), (error: Error) => {
        assert.ok(error instanceof UsageError);
        assert.match(error.message, new RegExp(`^Cannot use --max-file-size ${text}: `));
        assert.match(error.message, reason);
        return true;
      });
    });
  }
  assert.equal(parseMaxFileSize(String(MAX_ENCODABLE_FILE_SIZE)), MAX_ENCODABLE_FILE_SIZE);
});

Deno.test("server command line: sizes in messages read as people write them", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(1), "1 B");
  assert.equal(formatBytes(999), "999 B");
  assert.equal(formatBytes(1000), "1 kB");
  assert.equal(formatBytes(1_500_000), "1.5 MB");
  assert.equal(formatBytes(800_000_000), "800 MB");
  assert.equal(formatBytes(999_999), "1 MB");
  assert.equal(parseByteSize(formatBytes(800_000_000)), 800_000_000);
});

Deno.test("server command line: options, defaults and misuse", async (t) => {
  await t.step("defaults", () => {
    assert.deepEqual(parseCommandLine([]), {
      kind: "serve",
      dir: ".",
      logLevel: "info",
      maxFileSize: 800_000_000,
    });
  });
  await t.step("every serve option", () => {
    assert.deepEqual(
      parseCommandLine([
        "--dir",
        "d",
        "--port",
        "0",
        "--host",
        "::1",
        "--max-file-size",
        "1GB",
        "--log-level",
        "debug",
      ]),
      { kind: "serve", dir: "d", port: 0, host: "::1", maxFileSize: 1e9, logLevel: "debug" },
    );
  });
  await t.step("the secure mode behind a load balancer: --identity, --public-secure-port", () => {
    assert.deepEqual(
      parseCommandLine([
        "--identity",
        "d.pem",
        "--secure-port",
        "1257",
        "--public-secure-port",
        "443",
      ]),
      {
        kind: "serve",
        dir: ".",
        logLevel: "info",
        maxFileSize: 800_000_000,
        identity: "d.pem",
        securePort: 1257,
        publicSecurePort: 443,
      },
    );
    assert.deepEqual(parseCommandLine(["identity", "d.pem"]), {
      kind: "identity",
      dir: ".",
      file: "d.pem",
    });
    assert.deepEqual(
      parseCommandLine(["rotate-identity", "d.pem", "--registry", "postgres://h/db"]),
      {
        kind: "rotate-identity",
        dir: ".",
        file: "d.pem",
        registry: "postgres://h/db",
      },
    );
  });
  for (
    const [args, message] of [
      [["--bogus"], /^Cannot use --bogus: there is no such option$/],
      [["--port", "65536"], /^Cannot use --port 65536: a port is a number from 0 to 65535$/],
      [["--log-level", "loud"], /^Cannot use --log-level loud: the levels are trace, debug/],
      [["nonsense"], /^Cannot run "nonsense"/],
      [["--no-secure", "--identity", "f.pem"], /^Cannot use --identity with --no-secure/],
      [["--public-secure-port", "0"], /^Cannot use --public-secure-port 0: it names the port/],
      [["identity"], /^Cannot run server identity: it needs the file to write$/],
      [["clients", "--identity", "f.pem"], /^Cannot use --identity with server clients$/],
    ] as const
  ) {
    await t.step(args.join(" "), () => {
      assert.throws(() => parseCommandLine([...args]), (error: Error) => {
        assert.ok(error instanceof UsageError, String(error));
        assert.match(error.message, message);
        return true;
      });
    });
  }
});

Deno.test("server command line: expected failures are one line, a bug comes with its stack", async (t) => {
  await t.step("usage", () => {
    const failure = describeFailure(new UsageError("Cannot use --port x: a port is a number"));
    assert.equal(failure.exitCode, ExitCode.Usage);
    assert.equal(failure.text.split("\n").length, 1);
  });
  await t.step("a port in use suggests --port", () => {
    const failure = describeFailure(new PortInUseError("[::]:1256", 1256));
    assert.equal(failure.exitCode, ExitCode.Failure);
    assert.equal(
      failure.text,
      "Cannot listen on [::]:1256: the port is in use; choose another with --port PORT (or in port.info)",
    );
  });
  for (
    const error of [new DataFolderError("Cannot prepare x"), new RegistryError("Cannot open y")]
  ) {
    await t.step(error.name, () => {
      assert.deepEqual(describeFailure(error), {
        exitCode: ExitCode.Failure,
        text: error.message,
      });
    });
  }
  await t.step("a TypeError is a bug", () => {
    const bug = new TypeError("Cannot read properties of undefined", { cause: new Error("inner") });
    const failure = describeFailure(bug);
    assert.equal(failure.exitCode, ExitCode.Bug);
    assert.equal(ExitCode.Bug, 70);
    assert.match(failure.text, /^server: internal error, a bug/);
    assert.match(failure.text, /TypeError: Cannot read properties of undefined\n\s+at /);
    assert.match(failure.text, /Caused by: Error: inner/);
  });
});
