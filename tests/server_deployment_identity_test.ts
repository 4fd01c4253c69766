/**
 * Where an instance's secure-mode identity comes from
 * (`server/identity/deployment_identity.ts`), against an in-memory record of
 * the deployment's identity: its own folder's, an operator's `--identity`
 * file, the deployment's (made by the first instance, taken by the others),
 * a mismatch refused in one line, and rotation. The same against PostgreSQL
 * and through HAProxy is in `scale_secure_instances_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { formatFingerprint } from "../protocol/fingerprint.ts";
import {
  IdentityMismatchError,
  type IdentityRecord,
  type RecordedIdentity,
  resolveIdentity,
} from "../server/identity/deployment_identity.ts";
import { readServerIdentity, ServerIdentityError } from "../server/identity/tls_identity.ts";
import { createIdentityFile } from "../server/cli/fingerprint_command.ts";

/** A shared record in memory, with the first-writer-wins rule of PostgreSQL's. */
class MemoryRecord implements IdentityRecord {
  value: RecordedIdentity | undefined;
  read(): Promise<RecordedIdentity | undefined> {
    return Promise.resolve(this.value);
  }
  publish(identity: RecordedIdentity): Promise<RecordedIdentity> {
    this.value ??= identity;
    return Promise.resolve(this.value);
  }
  replace(identity: RecordedIdentity): Promise<void> {
    this.value = identity;
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "deployment_identity_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("deployment identity: a registry of its own keeps server_identity.pem in --dir", async () => {
  await withDir(async (dir) => {
    const first = await resolveIdentity({ dir });
    const again = await resolveIdentity({ dir });
    assert.deepEqual(again.identity.fingerprint, first.identity.fingerprint);
    assert.deepEqual((await readServerIdentity(dir))?.fingerprint, first.identity.fingerprint);
  });
});

Deno.test("deployment identity: --identity FILE is used as it is, and nothing is made in --dir", async () => {
  await withDir(async (dir) => {
    const file = join(dir, "deployment.pem");
    const printed = await createIdentityFile(file);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    const { identity } = await resolveIdentity({ dir, identityFile: file });
    assert.equal(printed.split("\n")[0], formatFingerprint(identity.fingerprint));
    assert.equal(await readServerIdentity(dir), undefined);
    await assert.rejects(createIdentityFile(file), /it exists already/);
    await assert.rejects(
      resolveIdentity({ dir, identityFile: join(dir, "missing.pem") }),
      /Cannot read the identity .*missing\.pem: it does not exist\. Make one with: server identity FILE/,
    );
  });
});

Deno.test("deployment identity: instances sharing a registry take the first one's", async () => {
  await withDir(async (dir) => {
    const record = new MemoryRecord();
    const [a, b] = await Promise.all([
      resolveIdentity({ dir: join(dir, "a"), record }),
      resolveIdentity({ dir: join(dir, "b"), record }),
    ]);
    assert.deepEqual(a!.identity.fingerprint, b!.identity.fingerprint);
    assert.ok(record.value?.privateKeyPem !== undefined, "the key is shared for the others");
    await assert.rejects(Deno.stat(join(dir, "a", "server_identity.pem")));
  });
});

Deno.test("deployment identity: an operator's file records only its certificate", async () => {
  await withDir(async (dir) => {
    const record = new MemoryRecord();
    const file = join(dir, "deployment.pem");
    await createIdentityFile(file);
    const a = await resolveIdentity({ dir: join(dir, "a"), identityFile: file, record });
    assert.equal(record.value?.privateKeyPem, undefined, "the key stays in the file");
    const b = await resolveIdentity({ dir: join(dir, "b"), identityFile: file, record });
    assert.deepEqual(b.identity.fingerprint, a.identity.fingerprint);
    await assert.rejects(
      resolveIdentity({ dir: join(dir, "c"), record }),
      (error) =>
        error instanceof ServerIdentityError &&
        /kept in the operator's file .* Give this instance --identity FILE/.test(error.message),
    );
  });
});

Deno.test("deployment identity: an instance whose identity differs refuses, in one line", async (t) => {
  await withDir(async (dir) => {
    const record = new MemoryRecord();
    const deployment = await resolveIdentity({ dir: join(dir, "a"), record });
    const shown = formatFingerprint(deployment.identity.fingerprint);
    await t.step("its own server_identity.pem from an earlier life", async () => {
      const stray = join(dir, "stray");
      await Deno.mkdir(stray);
      await resolveIdentity({ dir: stray }); // alone, it made its own
      await assert.rejects(resolveIdentity({ dir: stray, record }), (error) => {
        assert.ok(error instanceof IdentityMismatchError);
        assert.equal(error.message.split("\n").length, 1);
        assert.match(error.message, /^Cannot start with the identity SHA256:/);
        assert.ok(error.message.includes(`presents ${shown}`), error.message);
        assert.match(error.message, /move .*server_identity\.pem away to take the deployment's/);
        return true;
      });
    });
    await t.step("an --identity file that is not the deployment's", async () => {
      const file = join(dir, "other.pem");
      await createIdentityFile(file);
      await assert.rejects(
        resolveIdentity({ dir: join(dir, "c"), identityFile: file, record }),
        /give --identity the deployment's file; or make this one the deployment's with: server rotate-identity/,
      );
    });
  });
});

Deno.test("deployment identity: after rotation, instances take the new one", async () => {
  await withDir(async (dir) => {
    const record = new MemoryRecord();
    const before = await resolveIdentity({ dir: join(dir, "a"), record });
    const file = join(dir, "next.pem");
    await createIdentityFile(file);
    const next = await resolveIdentity({ dir: join(dir, "x"), identityFile: file });
    await record.replace({ certificatePem: next.identity.certificatePem });
    const after = await resolveIdentity({ dir: join(dir, "b"), identityFile: file, record });
    assert.deepEqual(after.identity.fingerprint, next.identity.fingerprint);
    assert.notDeepEqual(after.identity.fingerprint, before.identity.fingerprint);
  });
});
