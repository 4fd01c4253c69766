/**
 * Issue 22, point 3: the attack tests, per dialect. An impostor (the right
 * name, another id or key) is refused; a client registered in one family
 * cannot act in another; an upload under another key is not kept;
 * malformed and oversized frames are answered with the family's empty error
 * and the connection closes, before anything oversized is read; a flood of
 * refused requests closes the connection; `--dialects` serves only what it
 * names. After each, the server still serves.
 */

import assert from "node:assert/strict";
import {
  cksum,
  clientIdToHex,
  encodeFileNameField,
  encodeRequestHeader,
  generateRsaKeyPair,
  type RsaKeyPair,
} from "../protocol/mod.ts";
import {
  B_UPLOAD_HEAD_SIZE,
  encodeDialectRequest,
  encodePerPacketUpload,
  generateDialectAesKey,
} from "../protocol/dialects/mod.ts";
import {
  A_AYALA,
  B_B0RIK,
  C_AVIV,
  D_H3NGO1U,
  DialectClient,
  type DialectProfile,
} from "../harness/dialect_client.ts";
import { randomBytes, RawClient } from "../harness/raw_client.ts";
import { concat } from "../harness/bytes.ts";
import { withServer } from "./support/test_server.ts";
import { within } from "./support/reliability.ts";
import { parseCommandLine, UsageError } from "../server/cli/command_line.ts";
import { readServerIdentity } from "../server/identity/tls_identity.ts";

interface Member {
  name: string;
  id: Uint8Array;
  keys: RsaKeyPair;
  aesKey: Uint8Array;
}

/** Registers `name` in `profile`'s family on a connection of its own, left open as `client`. */
async function signUp(port: number, profile: DialectProfile, name: string) {
  const keys = await generateRsaKeyPair();
  const client = await DialectClient.connect(port, profile);
  const id = await client.register(name);
  const aesKey = await client.sendPublicKey(id, name, keys);
  return { client, me: { name, id, keys, aesKey } as Member };
}

/** Asserts the family's empty error answer, then the connection's end. */
async function expectErrorAndClose(client: DialectClient): Promise<void> {
  const answer = await client.readAnswer();
  assert.equal(answer.response.meaning, "generalError", `answer ${answer.code}`);
  assert.equal(answer.payload.length, 0);
  await client.readEnd();
}

/** The server still registers and serves a client of `profile`. */
async function stillServes(port: number, profile: DialectProfile): Promise<void> {
  const { client } = await signUp(port, profile, `Survivor ${crypto.randomUUID().slice(0, 8)}`);
  client[Symbol.dispose]();
}

Deno.test("dialect attacks: an impostor with the right name is refused in every family", async (t) => {
  await withServer(async ({ port }) => {
    for (const profile of [B_B0RIK, D_H3NGO1U]) {
      await t.step(`${profile.label}: a reconnect with another id, then its register`, async () => {
        const { client, me } = await signUp(port, profile, `Victim ${profile.family}`);
        client[Symbol.dispose]();
        using impostor = await DialectClient.connect(port, profile);
        const forged = new Uint8Array(16).fill(0x42);
        const frame = encodeDialectRequest(profile.family, forged, {
          meaning: "reconnect",
          name: me.name,
        });
        const denied = await impostor.exchange(frame, ["reconnectDenied"]);
        assert.deepEqual((denied.response as { clientId: Uint8Array }).clientId, forged);
        const register = encodeDialectRequest(profile.family, impostor.filler, {
          meaning: "register",
          name: me.name,
        });
        const taken = await impostor.exchange(register, ["registerFailed"]);
        assert.equal(taken.payload.length, 0);
      });
    }
    await t.step("C: its public key again, with the victim's id but another key", async () => {
      const { client, me } = await signUp(port, C_AVIV, "Victim C");
      client[Symbol.dispose]();
      using impostor = await DialectClient.connect(port, C_AVIV);
      const other = await generateRsaKeyPair();
      await impostor.request(me.id, {
        meaning: "publicKey",
        name: me.name,
        publicKey: other.publicKey,
      });
      const refused = await impostor.readAnswer();
      assert.equal(refused.response.meaning, "generalError");
      // Not signed in: an upload closes the connection.
      await impostor.send(
        await impostor.uploadBytes(
          me.id,
          generateDialectAesKey(16),
          encodeFileNameField("x"),
          new Uint8Array(5),
        ),
      );
      await expectErrorAndClose(impostor);
      // The victim's own key still signs it in.
      using victim = await DialectClient.connect(port, C_AVIV);
      await victim.reconnect(me.id, me.name, me.keys);
    });
  });
});

Deno.test("dialect attacks: a client of one family cannot act in another", async (t) => {
  await withServer(async ({ port }) => {
    const b = await signUp(port, B_B0RIK, "Family B");
    const c = await signUp(port, C_AVIV, "Family C");
    const d = await signUp(port, D_H3NGO1U, "Family D");
    for (const { client } of [b, c, d]) client[Symbol.dispose]();
    await t.step("a B client's id and name in a reference reconnect (827): 1606", async () => {
      using raw = await RawClient.connect(port);
      await raw.request(b.me.id, { code: 827, name: b.me.name });
      await raw.expect(1606);
    });
    await t.step("a B client's id, name and key in a family C sign-in (1101): 2107", async () => {
      using client = await DialectClient.connect(port, C_AVIV);
      await client.request(b.me.id, {
        meaning: "publicKey",
        name: b.me.name,
        publicKey: b.me.keys.publicKey,
      });
      assert.equal((await client.readAnswer()).response.meaning, "generalError");
    });
    await t.step("a C client's id and name in a B or D reconnect (1027): refused", async () => {
      using client = await DialectClient.connect(port, D_H3NGO1U);
      const frame = encodeDialectRequest("D", c.me.id, { meaning: "reconnect", name: c.me.name });
      const denied = await client.exchange(frame, ["reconnectDenied"]);
      assert.deepEqual((denied.response as { clientId: Uint8Array }).clientId, c.me.id);
    });
    await t.step("a D client's reconnect is answered in family D, a B client's in B", async () => {
      using dAgain = await DialectClient.connect(port, D_H3NGO1U);
      await dAgain.reconnect(d.me.id, d.me.name, d.me.keys);
      using bAgain = await DialectClient.connect(port, B_B0RIK);
      const key = await bAgain.reconnect(b.me.id, b.me.name, b.me.keys);
      assert.equal(key.length, 16);
    });
  });
});

Deno.test("dialect attacks: an upload under another key is not kept, its confirmation refused", async (t) => {
  await withServer(async ({ port, dir }) => {
    for (const profile of [A_AYALA, B_B0RIK, C_AVIV, D_H3NGO1U]) {
      await t.step(profile.label, async () => {
        const { client, me } = await signUp(port, profile, `Wrong key ${profile.label}`);
        using _ = client;
        const data = randomBytes(20_000);
        const field = encodeFileNameField("wrong.bin");
        const wrongKey = generateDialectAesKey(client.aesKeySize);
        await client.send(await client.uploadBytes(me.id, wrongKey, field, data));
        const answer = await client.readAnswer();
        assert.equal(answer.response.meaning, "fileReceived");
        assert.notEqual((answer.response as { cksum: number }).cksum, cksum(data));
        const verdict = await client.verdict(me.id, "crcOk", field);
        assert.equal(verdict?.response.meaning, "generalError");
        await assert.rejects(
          () => Deno.stat(`${dir}/received_files/${clientIdToHex(me.id)}/wrong.bin`),
          Deno.errors.NotFound,
        );
      });
    }
  });
});

Deno.test("dialect attacks: malformed and oversized frames get the family's empty error and a close", async (t) => {
  await withServer(async ({ port }) => {
    const header = (id: Uint8Array, code: number, size: number) =>
      encodeRequestHeader(id, code, size);
    const cases: Array<[string, DialectProfile, (c: DialectClient, me: Member) => Promise<void>]> =
      [
        ["B: 1025 with payload size 300", B_B0RIK, (c) => c.send(header(c.filler, 1025, 300))],
        ["C: 1100 with payload size 0", C_AVIV, (c) => c.send(header(c.filler, 1100, 0))],
        ["B: 1028 shorter than its head", B_B0RIK, (c, me) => c.send(header(me.id, 1028, 100))],
        ["B: 1028 whose head disagrees with its size", B_B0RIK, async (c, me) => {
          const head = new Uint8Array(B_UPLOAD_HEAD_SIZE);
          new DataView(head.buffer).setUint32(0, 64, true);
          await c.send(concat([header(me.id, 1028, B_UPLOAD_HEAD_SIZE + 32), head]));
        }],
        ["B: 1028 over the size limit, refused before its ciphertext", B_B0RIK, async (c, me) => {
          const c1 = 1_000_016;
          const head = new Uint8Array(B_UPLOAD_HEAD_SIZE);
          new DataView(head.buffer).setUint32(0, c1, true);
          head.set(encodeFileNameField("big.bin"), 4);
          await c.send(concat([header(me.id, 1028, B_UPLOAD_HEAD_SIZE + c1), head]));
        }],
        ["C: 1103 whose size is neither 275 nor 275 + c", C_AVIV, async (c, me) => {
          const head = new Uint8Array(275);
          head.set(me.id, 0);
          new DataView(head.buffer).setUint32(16, 32, true);
          await c.send(concat([header(me.id, 1103, 290), head]));
        }],
        ["C: 1104 with payload size 100", C_AVIV, (c, me) => c.send(header(me.id, 1104, 100))],
        [
          "D: 1028 with a 70 000-byte chunk",
          D_H3NGO1U,
          (c, me) => c.send(header(me.id, 1028, 70_267)),
        ],
        ["D: a packet over the size limit", D_H3NGO1U, async (c, me) => {
          const frames = encodePerPacketUpload(
            me.id,
            new Uint8Array(1_000_016),
            1_000_000,
            encodeFileNameField("big.bin"),
            { code: 1028, chunkSize: 1024, base: 1 },
          );
          await c.send(frames[0]!);
        }],
        ["D: a packet of another client in the middle", D_H3NGO1U, async (c, me) => {
          const frames = encodePerPacketUpload(
            me.id,
            new Uint8Array(4096),
            4095,
            encodeFileNameField("x.bin"),
            { code: 1028, chunkSize: 1024, base: 1 },
          );
          frames[1]!.set(new Uint8Array(16).fill(7), 0);
          await c.send(concat(frames));
        }],
        [
          "A per packet: an 828 of payload size 100",
          A_AYALA,
          (c, me) => c.send(header(me.id, 828, 100)),
        ],
      ];
    for (const [label, profile, send] of cases) {
      await t.step(label, async () => {
        const { client, me } = await signUp(
          port,
          profile,
          `Malformed ${crypto.randomUUID().slice(0, 8)}`,
        );
        using _ = client;
        await send(client, me);
        if (profile.family === "A") {
          // Before an upload is read, family A answers as the reference does (text).
          await expectReferenceErrorAndClose(client);
        } else {
          await expectErrorAndClose(client);
        }
        await stillServes(port, profile);
      });
    }
  }, { maxFileSize: 100_000 });
});

/** Reads a reference 1607 (a text payload) on a dialect client's connection, then its end. */
async function expectReferenceErrorAndClose(client: DialectClient): Promise<void> {
  const header = await client.readHeader();
  assert.equal(header?.code, 1607);
  await client.readPayload(header!.payloadSize);
  await client.readEnd();
}

Deno.test("dialect attacks: a flood of refused requests closes the connection", async (t) => {
  await withServer(async ({ port }) => {
    for (const profile of [B_B0RIK, C_AVIV, D_H3NGO1U]) {
      await t.step(profile.label, async () => {
        const { client, me } = await signUp(port, profile, `Flood ${profile.label}`);
        using _ = client;
        // CRC ok with nothing received: refused each time, 40 times over.
        const frame = encodeDialectRequest(profile.family, me.id, {
          meaning: "crcOk",
          fileNameField: encodeFileNameField("none.bin"),
        }, profile.cVerdictSize);
        await client.send(concat(Array.from({ length: 40 }, () => frame)));
        let errors = 0;
        for (;;) {
          const header = await client.readHeader();
          if (header === null) break;
          assert.equal(header.payloadSize, 0);
          errors++;
          assert.ok(errors <= 40);
        }
        assert.ok(errors >= 1 && errors < 40, `closed after ${errors} refusals`);
        await stillServes(port, profile);
      });
    }
  });
});

Deno.test("dialect attacks: --dialects serves only the dialects it names", async (t) => {
  await withServer(async ({ port }) => {
    await t.step("B and C are unknown codes, answered as the reference does", async () => {
      for (const code of [1025, 1100]) {
        using raw = await RawClient.connect(port);
        await raw.send(encodeDialectRequest(code === 1025 ? "B" : "C", new Uint8Array(16), {
          meaning: "register",
          name: "Not Served",
        }));
        assert.match(await raw.expectError(), /unknown request code/);
      }
    });
    await t.step("an 828 per packet is refused as the reference refuses it", async () => {
      using raw = await RawClient.connect(port);
      const keys = await generateRsaKeyPair();
      const id = await raw.register("Per Packet");
      const aesKey = await raw.sendPublicKey(id, "Per Packet", keys);
      assert.equal(aesKey.length, 32);
      await raw.sendHeader(id, 828, 267 + 1024);
      assert.match(await raw.expectError(), /payload size 1291 instead of 0/);
      await raw.readEnd();
    });
  }, { dialects: ["reference"] });
});

Deno.test("dialect quotas: over its limits an upload is read to its end and refused, the connection goes on", async (t) => {
  await withServer(async ({ port }) => {
    for (const profile of [A_AYALA, B_B0RIK, C_AVIV, D_H3NGO1U]) {
      await t.step(profile.label, async () => {
        const { client, me } = await signUp(port, profile, `Quota ${profile.label}`);
        using _ = client;
        const first = encodeFileNameField("first.bin");
        await client.upload(me.id, me.aesKey, first, randomBytes(3000));
        assert.equal((await client.verdict(me.id, "crcOk", first))?.response.meaning, "ack");
        // A second file is over --max-files 1: refused once read, in the family's shape.
        const second = encodeFileNameField("second.bin");
        await client.send(await client.uploadBytes(me.id, me.aesKey, second, randomBytes(50_000)));
        const refused = await client.readAnswer();
        assert.equal(refused.response.meaning, "generalError");
        // The connection is in step: the same name again replaces the first.
        const again = randomBytes(10);
        await client.upload(me.id, me.aesKey, first, again);
        assert.equal((await client.verdict(me.id, "crcOk", first))?.response.meaning, "ack");
      });
    }
  }, { maxStoredFiles: 1 });
});

Deno.test("dialect deadlines: a client of any family that never signs in is cut off, a signed-in one goes on", async () => {
  await withServer(async ({ port }) => {
    const keys = await generateRsaKeyPair();
    using signedIn = await DialectClient.connect(port, B_B0RIK);
    const id = await signedIn.register("Prompt B");
    const aesKey = await signedIn.sendPublicKey(id, "Prompt B", keys);
    const stalled: DialectClient[] = [];
    for (const profile of [B_B0RIK, C_AVIV, D_H3NGO1U]) {
      const client = await DialectClient.connect(port, profile);
      stalled.push(client);
      // Registered, and never a key.
      await client.register(`Stalled ${profile.label}`);
    }
    try {
      await within("the sign-in deadline", Promise.all(stalled.map((c) => c.readEnd())), 5_000);
    } finally {
      for (const client of stalled) client[Symbol.dispose]();
    }
    const field = encodeFileNameField("after.bin");
    await signedIn.upload(id, aesKey, field, new Uint8Array(100));
  }, { idleTimeoutMs: 10_000, signInTimeoutMs: 500 });
});

Deno.test("dialect attacks: the secure port serves the reference alone; other families' requests are unknown there", async () => {
  await withServer(async ({ server, dir }) => {
    const identity = await readServerIdentity(dir);
    assert.ok(identity !== undefined);
    for (const [family, code] of [["B", 1025], ["C", 1100]] as const) {
      using secure = await RawClient.connectSecure(server.securePort!, identity.certificate);
      await secure.send(encodeDialectRequest(family, new Uint8Array(16), {
        meaning: "register",
        name: "Not Here",
      }));
      assert.match(await secure.expectError(), new RegExp(`unknown request code ${code}`));
    }
  });
});

Deno.test("dialect command line: --dialects takes names, comma-separated, and refuses others in one line", () => {
  const serve = parseCommandLine(["--dialects", "reference, B,c"]);
  assert.ok(serve.kind === "serve");
  assert.deepEqual(serve.dialects, ["reference", "b", "c"]);
  const all = parseCommandLine([]);
  assert.ok(all.kind === "serve" && all.dialects === undefined, "default: every dialect");
  assert.throws(() => parseCommandLine(["--dialects", "b,e"]), UsageError);
  assert.throws(() => parseCommandLine(["--dialects", " , "]), UsageError);
  assert.throws(() => parseCommandLine(["clients", "--dialects", "b"]), UsageError);
});

/** Registers `name` in `profile`'s family from `hostname`, then closes the connection. */
async function signUpFrom(port: number, profile: DialectProfile, name: string, hostname: string) {
  const keys = await generateRsaKeyPair();
  using client = await DialectClient.connect(port, profile, hostname);
  const id = await client.register(name);
  await client.sendPublicKey(id, name, keys);
}

Deno.test("dialect attacks: registrations past the per-address limit are refused in every family", async (t) => {
  // Family A registers with 825, the reference's request: its refusal is tested with the
  // reference client (`reliability_server_signed_in_hold_test.ts`).
  for (const profile of [B_B0RIK, C_AVIV, D_H3NGO1U]) {
    const name = (i: number | string) => `Rate ${profile.family} ${i}`;
    await t.step(
      `${profile.label}: the third name from 127.0.0.1 is refused, ::1 registers`,
      async () => {
        // Listening on "::" (dual stack): 127.0.0.1 and ::1 are two addresses.
        await withServer(async ({ port }) => {
          for (let i = 0; i < 2; i++) {
            await within("a registration", signUpFrom(port, profile, name(i), "127.0.0.1"), 10_000);
          }
          using refused = await DialectClient.connect(port, profile);
          const register = encodeDialectRequest(profile.family, refused.filler, {
            meaning: "register",
            name: name(2),
          });
          const answer = await within(
            "the refusal",
            refused.exchange(register, ["registerFailed"]),
            10_000,
          );
          assert.equal(answer.payload.length, 0);
          await within(
            "a registration from ::1",
            signUpFrom(port, profile, name(2), "::1"),
            10_000,
          );
        }, { host: "::", registrationsPerMinute: 2 });
      },
    );
  }
});
