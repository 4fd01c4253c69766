/**
 * Issue 3, point 7: hostile input. Every case is answered by 1607 or a
 * closed connection and a log line; afterwards the server still serves, and
 * nothing was written anywhere but the client folders (which stay empty, as
 * every hostile upload is refused).
 *
 * The frames here are built raw on purpose (header fields written by hand,
 * packets from the encoder then corrupted, reordered or repeated): they are
 * what a correct encoder never sends.
 */

import assert from "node:assert/strict";
import { captureServerLogs } from "./support/log_capture.ts";
import {
  cksum,
  type ClientId,
  clientIdToHex,
  contentSizeFor,
  encodeFileNameField,
  encodePacketHeader,
  encodeRequestHeader,
  FILE_NAME_FIELD_SIZE,
  generateRsaKeyPair,
  NAME_FIELD_SIZE,
  packetCount,
  RequestCode,
  ResponseCode,
  writePacketHeader,
  ZERO_CLIENT_ID,
} from "../protocol/mod.ts";
import {
  buildPackets,
  encryptContent,
  randomBytes,
  RawClient,
  signUp,
  type TestIdentity,
} from "../harness/raw_client.ts";
import { concat } from "../harness/bytes.ts";
import { withServer } from "./support/test_server.ts";
import { listFiles } from "./support/reliability.ts";

/** A case: what to send, and whether the server keeps the connection open. */
interface HostileCase {
  name: string;
  /** Register and exchange keys first. */
  signedIn?: boolean;
  send: (client: RawClient, me: TestIdentity | undefined) => Promise<void>;
  /** `"error"`: 1607, connection goes on; `"error+close"`: 1607 then closed; `"close"`: closed. */
  outcome: "error" | "error+close" | "close";
}

function field(bytes: number[] | string, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes);
  return out;
}

function nameRequest(code: number, nameField: Uint8Array): Uint8Array {
  return concat([encodeRequestHeader(ZERO_CLIENT_ID, code, nameField.length), nameField]);
}

/** An 828 upload of a few bytes whose first packet carries `fileNameField`. */
async function uploadWithField(me: TestIdentity, fileNameField: Uint8Array): Promise<Uint8Array> {
  const data = new TextEncoder().encode("hostile");
  const content = await encryptContent(me.aesKey, data);
  return concat([
    encodeRequestHeader(me.clientId, RequestCode.SendFile, 0),
    ...buildPackets(content, data.length, fileNameField),
  ]);
}

/** The packets of a 3-packet upload, to tamper with. */
async function threePackets(me: TestIdentity, name = "three.bin"): Promise<Uint8Array[]> {
  const data = randomBytes(20000);
  return buildPackets(
    await encryptContent(me.aesKey, data),
    data.length,
    encodeFileNameField(name),
  );
}

function header828(id: ClientId): Uint8Array {
  return encodeRequestHeader(id, RequestCode.SendFile, 0);
}

const BAD_FILE_NAMES: [string, Uint8Array][] = [
  ["empty", field([], FILE_NAME_FIELD_SIZE)],
  ["with /", field("dir/evil.txt", FILE_NAME_FIELD_SIZE)],
  ["with \\", field("dir\\evil.txt", FILE_NAME_FIELD_SIZE)],
  ["..", field("..", FILE_NAME_FIELD_SIZE)],
  ["../ escape", field("../../server.db", FILE_NAME_FIELD_SIZE)],
  ["NUL inside", field([0x61, 0, 0x62], FILE_NAME_FIELD_SIZE)],
  ["control character", field("bell\x07.txt", FILE_NAME_FIELD_SIZE)],
  ["DEL character", field("del\x7f.txt", FILE_NAME_FIELD_SIZE)],
  ["Windows device CON", field("CON", FILE_NAME_FIELD_SIZE)],
  ["Windows device nul.txt", field("nul.txt", FILE_NAME_FIELD_SIZE)],
  ["invalid UTF-8", field([0x61, 0xc3], FILE_NAME_FIELD_SIZE)],
  ["a temporary file's name", field("~upload-0123456789abcdef.partial", FILE_NAME_FIELD_SIZE)],
  // A 256-byte name cut to the field: its last character is cut in half.
  [
    "over 255 bytes (cut UTF-8)",
    field([...new Uint8Array(254).fill(0x61), 0xc3], FILE_NAME_FIELD_SIZE),
  ],
];

const CASES: HostileCase[] = [
  {
    name: "825 with a payload size larger than the code allows",
    send: (c) => c.sendHeader(ZERO_CLIENT_ID, RequestCode.Register, 0xffff_ffff),
    outcome: "error+close",
  },
  {
    name: "826 with a payload size smaller than the code needs",
    send: (c) => c.send(nameRequest(RequestCode.PublicKey, field("Short", NAME_FIELD_SIZE))),
    outcome: "error+close",
  },
  {
    name: "828 with a payload size other than 0",
    signedIn: true,
    send: (c, me) => c.sendHeader(me!.clientId, RequestCode.SendFile, 4),
    outcome: "error+close",
  },
  {
    name: "a truncated header",
    send: async (c) => {
      await c.send(encodeRequestHeader(ZERO_CLIENT_ID, RequestCode.Register, 255).subarray(0, 10));
      await c.conn.closeWrite();
    },
    outcome: "close",
  },
  {
    name: "a truncated payload",
    send: async (c) => {
      await c.send(
        nameRequest(RequestCode.Register, field("Trunc", NAME_FIELD_SIZE)).subarray(0, 100),
      );
      await c.conn.closeWrite();
    },
    outcome: "close",
  },
  {
    name: "an unknown code with a small payload",
    send: async (c) => {
      await c.sendHeader(ZERO_CLIENT_ID, 1234, 3);
      await c.send(new Uint8Array(3));
    },
    outcome: "error",
  },
  {
    name: "an unknown code with a huge payload",
    send: (c) => c.sendHeader(ZERO_CLIENT_ID, 7, 0xffff_fff0),
    outcome: "error+close",
  },
  {
    name: "an empty name",
    send: (c) => c.send(nameRequest(RequestCode.Register, field([], NAME_FIELD_SIZE))),
    outcome: "error",
  },
  {
    name: "a name over 100 bytes",
    send: (c) => c.send(nameRequest(RequestCode.Register, field("n".repeat(101), NAME_FIELD_SIZE))),
    outcome: "error",
  },
  {
    name: "a name with no NUL at all (255 bytes)",
    send: (c) =>
      c.send(nameRequest(RequestCode.Reconnect, field("n".repeat(255), NAME_FIELD_SIZE))),
    outcome: "error",
  },
  {
    name: "a non-ASCII name",
    send: (c) =>
      c.send(nameRequest(RequestCode.Register, field([0x4a, 0xc3, 0xa9], NAME_FIELD_SIZE))),
    outcome: "error",
  },
  {
    name: "a name with a control character",
    send: (c) => c.send(nameRequest(RequestCode.Register, field("a\nb", NAME_FIELD_SIZE))),
    outcome: "error",
  },
  ...BAD_FILE_NAMES.map(([what, fileNameField]): HostileCase => ({
    name: `a file name: ${what}`,
    signedIn: true,
    send: async (c, me) => await c.send(await uploadWithField(me!, fileNameField)),
    outcome: "error+close",
  })),
  {
    name: "a content size that cannot hold the original size",
    signedIn: true,
    send: async (c, me) => {
      const packet = encodePacketHeader({
        contentSize: 20,
        originalSize: 100,
        packetNumber: 0,
        totalPackets: 1,
        fileNameField: encodeFileNameField("short.bin"),
      });
      await c.send(concat([header828(me!.clientId), packet, new Uint8Array(20)]));
    },
    outcome: "error+close",
  },
  {
    name: "a content size that is not what the original size encrypts to",
    signedIn: true,
    send: async (c, me) => {
      const packet = encodePacketHeader({
        contentSize: contentSizeFor(100) + 16,
        originalSize: 100,
        packetNumber: 0,
        totalPackets: 1,
        fileNameField: encodeFileNameField("long.bin"),
      });
      await c.send(concat([header828(me!.clientId), packet]));
    },
    outcome: "error+close",
  },
  {
    name: "an original size over the limit (4 GB)",
    signedIn: true,
    send: async (c, me) => {
      const packet = encodePacketHeader({
        contentSize: 0xffff_fff4,
        originalSize: 0xffff_ffef,
        packetNumber: 0,
        totalPackets: packetCount(0xffff_fff4) & 0xffff,
        fileNameField: encodeFileNameField("huge.bin"),
      });
      await c.send(concat([header828(me!.clientId), packet]));
    },
    outcome: "error+close",
  },
  {
    name: "a first packet whose number is not 0",
    signedIn: true,
    send: async (c, me) => {
      const packets = await threePackets(me!);
      packets[0]![8] = 1;
      await c.send(concat([header828(me!.clientId), ...packets]));
    },
    outcome: "error+close",
  },
  {
    name: "a wrong total packet count",
    signedIn: true,
    send: async (c, me) => {
      const packets = await threePackets(me!);
      for (const p of packets) p[10] = 4;
      await c.send(concat([header828(me!.clientId), ...packets]));
    },
    outcome: "error+close",
  },
  {
    name: "packets out of order",
    signedIn: true,
    send: async (c, me) => {
      const [p0, p1, p2] = await threePackets(me!);
      await c.send(concat([header828(me!.clientId), p0!, p2!, p1!]));
    },
    outcome: "error+close",
  },
  {
    name: "a repeated packet",
    signedIn: true,
    send: async (c, me) => {
      const [p0, p1, p2] = await threePackets(me!);
      await c.send(concat([header828(me!.clientId), p0!, p1!, p1!, p2!]));
    },
    outcome: "error+close",
  },
  {
    name: "a file name changed mid-upload",
    signedIn: true,
    send: async (c, me) => {
      const packets = await threePackets(me!);
      const other = encodeFileNameField("other.bin");
      const p2 = packets[2]!;
      writePacketHeader(p2, 0, {
        contentSize: 20020,
        originalSize: 20000,
        packetNumber: 2,
        totalPackets: 3,
        fileNameField: other,
      });
      await c.send(concat([header828(me!.clientId), ...packets]));
    },
    outcome: "error+close",
  },
  {
    name: "an original size changed mid-upload",
    signedIn: true,
    send: async (c, me) => {
      const packets = await threePackets(me!);
      new DataView(packets[1]!.buffer).setUint32(4, 19999, true);
      await c.send(concat([header828(me!.clientId), ...packets]));
    },
    outcome: "error+close",
  },
  {
    name: "828 before a key exchange",
    send: async (c) => {
      const id = await c.register("Early Bird");
      await c.send(header828(id));
    },
    outcome: "error+close",
  },
  {
    name: "a client that connects and sends nothing",
    send: async () => {},
    outcome: "close",
  },
  {
    name: "a client that stops in the middle of an upload",
    signedIn: true,
    send: async (c, me) => {
      const packets = await threePackets(me!);
      await c.send(concat([header828(me!.clientId), packets[0]!]));
    },
    outcome: "close",
  },
];

Deno.test("server: hostile input gets 1607 or a closed connection and a log line, never a crash or a stray file", async (t) => {
  await using logs = await captureServerLogs("warning");
  const records = logs.records;
  const dir = await Deno.makeTempDir({ prefix: "server_hostile_" });
  try {
    let survivor = "";
    await withServer(async ({ port }) => {
      let n = 0;
      for (const hostile of CASES) {
        await t.step(hostile.name, async () => {
          // Keys first: the server's idle timeout here is short.
          const keys = hostile.signedIn ? await generateRsaKeyPair() : undefined;
          using client = await RawClient.connect(port);
          const me = keys ? await signUp(client, `Hostile ${n++}`, keys) : undefined;
          const before = records.length;
          await hostile.send(client, me);
          if (hostile.outcome !== "close") {
            const text = await client.expectError();
            assert.ok(text.length > 0, "1607 without a reason");
          }
          if (hostile.outcome === "error") {
            // The connection goes on: a valid request still works.
            await client.register(`After ${n++}`);
          } else {
            await client.readEnd();
          }
          // The session logs before it answers or closes.
          assert.ok(records.length > before, "nothing logged");
        });
      }

      // Still serving. Keys first: the idle timeout is short.
      const keys = await generateRsaKeyPair();
      using client = await RawClient.connect(port);
      const me = await signUp(client, "Survivor", keys);
      survivor = clientIdToHex(me.clientId);
      const data = randomBytes(1000);
      assert.equal(
        (await client.upload(me.clientId, me.aesKey, "ok.bin", data)).cksum,
        cksum(data),
      );
      await client.request(me.clientId, { code: RequestCode.CrcOk, fileName: "ok.bin" });
      await client.expect(ResponseCode.Ack);
    }, { dir, idleTimeoutMs: 300 });

    // Once every session has ended: nothing but the database, the client
    // folders (empty: no temporary file left) and the one good file.
    const files = (await listFiles(dir, { folders: true })).filter((f) =>
      !/^received_files\/[0-9a-f]{32}\/$/.test(f) && !/^server\.db(-wal|-shm)?$/.test(f)
    );
    // The secure mode's identity (issue 13) is the one other file.
    assert.deepEqual(files, [
      "received_files/",
      `received_files/${survivor}/ok.bin`,
      "server_identity.pem",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
