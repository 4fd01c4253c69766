/**
 * The identity files: written atomically with mode 0600 in the formats the
 * reference client reads; read back from `me.info` or the reference's
 * `info.me`, with the key of `priv.key`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { formatPrivateKey, IdentitySyntaxError, parseMeInfo } from "../protocol/mod.ts";
import { ClientError, ExitCode } from "../client/client_error.ts";
import { loadIdentity, saveIdentity } from "../client/identity_store.ts";
import { readFixture, readFixtureText } from "./support/golden_session.ts";

Deno.test("saveIdentity writes what the reference client writes, mode 0600, no temp files left", async () => {
  const dir = await Deno.makeTempDir({ prefix: "client-identity-" });
  try {
    const golden = parseMeInfo(await readFixtureText("s1-info.me"));
    await saveIdentity(dir, golden);
    assert.equal(
      await Deno.readTextFile(join(dir, "me.info")),
      await readFixtureText("s1-info.me"),
    );
    assert.equal(
      await Deno.readTextFile(join(dir, "priv.key")),
      await readFixtureText("s1-priv.key"),
    );
    if (Deno.build.os !== "windows") {
      for (const name of ["me.info", "priv.key"]) {
        assert.equal((await Deno.stat(join(dir, name))).mode! & 0o777, 0o600, name);
      }
    }
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.deepEqual(names.sort(), ["me.info", "priv.key"]);
    // Overwriting keeps the mode and the atomicity.
    await saveIdentity(dir, { ...golden, name: "Other" });
    assert.equal((await loadIdentity(dir))?.identity.name, "Other");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadIdentity reads the reference's info.me when me.info is missing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "client-identity-" });
  try {
    assert.equal(await loadIdentity(dir), undefined);
    await Deno.writeFile(join(dir, "info.me"), await readFixture("s1-info.me"));
    const loaded = await loadIdentity(dir);
    assert.equal(loaded?.path, join(dir, "info.me"));
    assert.equal(loaded?.identity.name, "Golden User");
    // priv.key wins over the key inside the identity file.
    const other = parseMeInfo(await readFixtureText("s3-info.me")).privateKeyDer;
    await Deno.writeTextFile(join(dir, "priv.key"), formatPrivateKey(other));
    assert.deepEqual((await loadIdentity(dir))?.identity.privateKeyDer, other);
    // me.info wins over info.me.
    await Deno.writeFile(join(dir, "me.info"), await readFixture("s3-info.me"));
    assert.equal((await loadIdentity(dir))?.path, join(dir, "me.info"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a damaged priv.key is a configuration error naming the file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "client-identity-" });
  try {
    await Deno.writeFile(join(dir, "me.info"), await readFixture("s1-info.me"));
    await Deno.writeTextFile(join(dir, "priv.key"), "not base64!\n");
    await assert.rejects(loadIdentity(dir), (error: unknown) => {
      assert.ok(error instanceof ClientError);
      assert.equal(error.exitCode, ExitCode.Config);
      assert.match(error.message, /^Cannot read .*priv\.key: it is not Base64\. Restore it/);
      assert.ok(error.cause instanceof SyntaxError, "a parse error is a SyntaxError");
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a damaged me.info is a SyntaxError with its line, kept as the cause", async () => {
  const dir = await Deno.makeTempDir({ prefix: "client-identity-" });
  try {
    await Deno.writeTextFile(join(dir, "me.info"), "Carol\nnot-hex\nAAAA\n");
    await assert.rejects(loadIdentity(dir), (error: unknown) => {
      assert.ok(error instanceof ClientError);
      assert.equal(error.exitCode, ExitCode.Config);
      assert.ok(error.cause instanceof IdentitySyntaxError);
      assert.ok(error.cause instanceof SyntaxError);
      assert.equal(error.cause.where, "line 2");
      assert.equal(error.reason, "line 2: expected the client id as 32 hex digits");
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
