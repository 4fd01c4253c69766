/**
 * Fuzzing a live server: thousands of random and mutated frames (random
 * codes and sizes, truncated payloads, valid prefixes followed by garbage,
 * fields at their extremes, uploads with tampered packet headers) over many
 * concurrent connections. The server must never crash, never leave an
 * unhandled rejection or an internal error, answer only well-formed frames,
 * close every connection, keep its memory bounded, write nothing but into
 * the fuzzing clients' own folders, and still serve a normal client.
 *
 * The seed is printed; set FUZZ_SEED to replay a run.
 */

import assert from "node:assert/strict";
import { captureServerLogs } from "./support/log_capture.ts";
import {
  CLIENT_ID_SIZE,
  clientIdToHex,
  encodeFileNameField,
  encodeRequest,
  encodeRequestHeader,
  generateRsaKeyPair,
  PACKET_HEADER_SIZE,
  RequestCode,
  ResponseCode,
  type RsaKeyPair,
  writePacketHeader,
  ZERO_CLIENT_ID,
} from "../protocol/mod.ts";
import {
  buildPackets,
  encryptContent,
  RawClient,
  signUp,
  type TestIdentity,
} from "../harness/raw_client.ts";
import { concat } from "../harness/bytes.ts";
import { listFiles, SeededRandom, within } from "./support/reliability.ts";
import { withServer } from "./support/test_server.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 0x5eed_f00d) >>> 0;
const CONNECTIONS = 2000;
const FRAMES_PER_CONNECTION = 6;
const CONCURRENCY = 40;
const SIGNED_IN_SHARE = 0.3;

const CODES = [825, 826, 827, 828, 900, 901, 902, 0, 1, 824, 829, 899, 903, 1600, 0xffff];
const U32_EXTREMES = [0, 1, 2, 15, 16, 19, 20, 21, 255, 256, 415, 4096, 4097, 7925, 7926];
const U32_EDGES = [0x7fff_ffff, 0x8000_0000, 0xffff_fffe, 0xffff_ffff];

function u32(rng: SeededRandom): number {
  const roll = rng.below(10);
  if (roll < 5) return rng.pick(U32_EXTREMES);
  if (roll < 7) return rng.pick(U32_EDGES);
  return rng.u32();
}

function u16(rng: SeededRandom): number {
  return rng.below(3) === 0 ? rng.pick([0, 1, 2, 0x7fff, 0xfffe, 0xffff]) : rng.u32() & 0xffff;
}

/** A header with a random code and payload size, then a payload that may be cut short. */
function randomFrame(rng: SeededRandom, id: Uint8Array): Uint8Array {
  const header = encodeRequestHeader(id, rng.pick(CODES), 0);
  header[16] = rng.below(4) === 0 ? rng.u32() & 0xff : 3; // version
  const size = u32(rng);
  new DataView(header.buffer).setUint32(19, size, true);
  return concat([header, rng.bytes(Math.min(size, rng.below(700)))]);
}

/** A valid request cut at a random point, followed by garbage. */
function validPrefix(rng: SeededRandom, id: Uint8Array, keys: RsaKeyPair): Uint8Array {
  const name = String.fromCharCode(...rng.bytes(1 + rng.below(100)).map((b) => 0x20 + (b % 95)));
  const requests = [
    encodeRequest(id, { code: RequestCode.Register, name }),
    encodeRequest(id, { code: RequestCode.PublicKey, name, publicKey: keys.publicKey }),
    encodeRequest(id, { code: RequestCode.Reconnect, name }),
    encodeRequest(id, { code: RequestCode.CrcOk, fileName: name }),
  ];
  const valid = rng.pick(requests);
  return concat([valid.subarray(0, rng.below(valid.length + 1)), rng.bytes(rng.below(300))]);
}

/**
 * An 828 whose first packet header has fields at their extremes, then some
 * chunk bytes. Written raw on purpose: no correct encoder makes these.
 */
function extremeUpload(rng: SeededRandom, id: Uint8Array): Uint8Array {
  const packet = new Uint8Array(PACKET_HEADER_SIZE);
  const nameField = rng.below(2) === 0
    ? encodeFileNameField(rng.pick(["a.bin", "x", "~upload-0000000000000000.partial"]))
    : rng.bytes(255);
  writePacketHeader(packet, 0, {
    contentSize: u32(rng),
    originalSize: u32(rng),
    packetNumber: u16(rng),
    totalPackets: u16(rng),
    fileNameField: nameField,
  });
  return concat([
    encodeRequestHeader(id, RequestCode.SendFile, 0),
    packet.subarray(0, rng.below(4) === 0 ? rng.below(PACKET_HEADER_SIZE) : PACKET_HEADER_SIZE),
    rng.bytes(rng.below(9000)),
  ]);
}

/** A whole valid upload with a few bytes flipped (or cut). */
async function mutatedUpload(rng: SeededRandom, me: TestIdentity): Promise<Uint8Array> {
  const data = rng.bytes(rng.below(20_000));
  const content = await encryptContent(me.aesKey, data);
  const bytes = concat([
    encodeRequestHeader(me.clientId, RequestCode.SendFile, 0),
    ...buildPackets(content, data.length, encodeFileNameField(`f${rng.below(5)}.bin`)),
  ]);
  for (let flips = rng.below(4); flips > 0; flips--) {
    bytes[rng.below(bytes.length)] = rng.u32() & 0xff;
  }
  return rng.below(4) === 0 ? bytes.subarray(0, rng.below(bytes.length)) : bytes;
}

/** Sends `bytes`; false once the server has closed the connection. */
async function trySend(client: RawClient, bytes: Uint8Array): Promise<boolean> {
  try {
    await client.send(bytes);
    return true;
  } catch {
    return false;
  }
}

Deno.test("reliability: fuzzing the server with thousands of random and mutated frames", async () => {
  console.log(`fuzz seed ${SEED} (set FUZZ_SEED=${SEED} to replay)`);
  const rng = new SeededRandom(SEED);
  const unhandled: unknown[] = [];
  const onUnhandled = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    unhandled.push(event.reason);
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  await using logs = await captureServerLogs("error");
  const records = logs.records;
  const keys = await generateRsaKeyPair();
  let framesSent = 0;
  const ownIds = new Set<string>();
  try {
    await withServer(async ({ port, dir }) => {
      const rssBefore = Deno.memoryUsage().rss;
      const fuzzOne = async (index: number): Promise<void> => {
        using client = await RawClient.connect(port);
        let me: TestIdentity | undefined;
        if (rng.below(100) < SIGNED_IN_SHARE * 100) {
          const name = `fuzz ${index}`;
          const clientId = await client.register(name);
          ownIds.add(clientIdToHex(clientId));
          me = { name, clientId, keys, aesKey: await client.sendPublicKey(clientId, name, keys) };
        }
        const id = me === undefined || rng.below(5) === 0
          ? rng.pick([ZERO_CLIENT_ID, rng.bytes(CLIENT_ID_SIZE)])
          : me.clientId;
        for (let f = 0; f < FRAMES_PER_CONNECTION; f++) {
          const kind = rng.below(me === undefined ? 4 : 6);
          const bytes = kind === 0
            ? randomFrame(rng, id)
            : kind === 1
            ? validPrefix(rng, id, keys)
            : kind === 2
            ? extremeUpload(rng, id)
            : kind === 3
            ? rng.bytes(rng.below(2000))
            : kind === 4
            ? extremeUpload(rng, me!.clientId)
            : await mutatedUpload(rng, me!);
          framesSent++;
          if (!(await trySend(client, bytes))) break;
        }
        // Say we are done sending; the server must answer what it can and close.
        await client.conn.closeWrite().catch(() => {});
        while (await client.readResponseOrEnd() !== null) {
          // Every answer decoded (readResponseOrEnd throws on a malformed frame).
        }
      };
      let next = 0;
      await within(
        "every fuzzing connection to end",
        Promise.all(Array.from({ length: CONCURRENCY }, async () => {
          while (next < CONNECTIONS) await fuzzOne(next++);
        })),
        60_000,
      );
      const growth = Deno.memoryUsage().rss - rssBefore;
      console.log(
        `${framesSent} frames over ${CONNECTIONS} connections; RSS grew ${
          (growth / 1e6).toFixed(1)
        } MB`,
      );
      assert.ok(growth < 200e6, `resident memory grew by ${growth} bytes`);

      // Nothing written but into the fuzzing clients' own folders, and no temporary file.
      for (const path of await listFiles(dir)) {
        const parts = path.split("/");
        // server_identity.pem: the secure mode's identity (issue 13), made at start-up.
        const ok = /^server\.db(-wal|-shm)?$/.test(path) || path === "server_identity.pem" ||
          (parts.length === 3 && parts[0] === "received_files" && ownIds.has(parts[1]!) &&
            !parts[2]!.endsWith(".partial"));
        assert.ok(ok, `unexpected file ${path}`);
      }

      // A well-behaved client is still served.
      using normal = await RawClient.connect(port);
      const me = await signUp(normal, "After The Fuzz");
      const data = new TextEncoder().encode("still here");
      await normal.upload(me.clientId, me.aesKey, "ok.txt", data);
      await normal.request(me.clientId, { code: RequestCode.CrcOk, fileName: "ok.txt" });
      await normal.expect(ResponseCode.Ack);
    }, { idleTimeoutMs: 2_000, requestTimeoutMs: 2_000, registrationsPerMinute: 1_000_000 });
    assert.deepEqual(unhandled, [], "unhandled promise rejections");
    assert.deepEqual(
      records.map((record) => record.message.join("")),
      [],
      "the server logged internal errors",
    );
    assert.ok(framesSent >= 2000, `only ${framesSent} frames were sent`);
  } finally {
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
  }
});
