/**
 * Issue 11, §2 "Connection slots", and issue 17's slot debt: who is closed
 * to make room when a cap is reached (the policy alone, with several
 * addresses and unproductive times), and against a live
 * server the header deadline, the sign-in deadline and the per-address cap.
 */

import assert from "node:assert/strict";
import {
  encodeRequest,
  encodeRequestHeader,
  generateRsaKeyPair,
  REQUEST_HEADER_SIZE,
  RequestCode,
  ResponseCode,
  ZERO_CLIENT_ID,
} from "../protocol/mod.ts";
import { ConnectionSlots, type SlotHolder } from "../server/net/connection_slots.ts";
import { RawClient, signUp } from "../harness/raw_client.ts";
import { delay, within } from "./support/reliability.ts";
import { withServer } from "./support/test_server.ts";
import { ServerProcess } from "./support/server_process.ts";
import { parseCommandLine, UsageError } from "../server/cli/command_line.ts";

interface Holder extends SlotHolder {
  name: string;
}

/**
 * A connection: "new" (not signed in), or signed in and either waiting for
 * a request ("waiting") or in the middle of one ("working", an upload in
 * hand included), owing `debtMs` of unproductive time.
 */
function holder(
  name: string,
  address: string,
  state: "new" | "waiting" | "working",
  debtMs = 0,
): Holder {
  return {
    name,
    address,
    signedIn: state !== "new",
    betweenRequests: state === "waiting",
    unproductiveMs: () => debtMs,
  };
}

Deno.test("connection slots: who makes room for a newcomer", async (t) => {
  const cases: {
    name: string;
    max: number;
    perAddress: number;
    open: Holder[];
    newcomer: string;
    expected: string[] | undefined;
    now?: number;
  }[] = [
    {
      name: "room left: nobody is closed",
      max: 3,
      perAddress: 3,
      open: [holder("a", "A", "new")],
      newcomer: "B",
      expected: [],
    },
    {
      name: "full: the oldest connection not signed in goes first, even before one in debt",
      max: 3,
      perAddress: 3,
      open: [
        holder("debtor", "A", "waiting", 10_000),
        holder("old", "B", "new"),
        holder("young", "C", "new"),
      ],
      newcomer: "D",
      expected: ["old"],
    },
    {
      name: "full: one in debt past the grace goes before a young connection not signed in",
      max: 3,
      perAddress: 3,
      open: [
        holder("debtor", "A", "waiting", 2_000),
        holder("newcomer", "B", "new"),
        holder("busy", "C", "working"),
      ],
      newcomer: "D",
      expected: ["debtor"],
      now: 2_000.5, // "newcomer" opened 1999.5 ms ago
    },
    {
      name: "full, everyone signed in: the most unproductive goes, mid-request or not",
      max: 3,
      perAddress: 3,
      open: [
        holder("waiting 3 s", "A", "waiting", 3_000),
        holder("slow upload 9 s", "B", "working", 9_000),
        holder("fast upload", "C", "working", 0),
      ],
      newcomer: "D",
      expected: ["slow upload 9 s"],
    },
    {
      name: "full, a young one not signed in and none in debt: the young one goes",
      max: 3,
      perAddress: 3,
      open: [
        holder("waiting 1 s", "A", "waiting", 1_000),
        holder("newcomer", "B", "new"),
        holder("working", "C", "working", 1_900),
      ],
      newcomer: "D",
      expected: ["newcomer"],
      now: 1_500,
    },
    {
      name:
        "full, none in debt: the most unproductive waiting for a request goes, never one mid-request",
      max: 3,
      perAddress: 3,
      open: [
        holder("working", "A", "working", 1_900),
        holder("waiting 0.5 s", "B", "waiting", 500),
        holder("waiting 1 s", "C", "waiting", 1_000),
      ],
      newcomer: "D",
      expected: ["waiting 1 s"],
    },
    {
      name: "full, everyone transferring at the floor or faster: the newcomer is refused",
      max: 2,
      perAddress: 2,
      open: [holder("upload", "A", "working", 0), holder("download", "B", "working", 1_999)],
      newcomer: "C",
      expected: undefined,
    },
    {
      name: "address at its cap: one of its own goes, not an older one of another address",
      max: 10,
      perAddress: 2,
      open: [holder("other", "B", "new"), holder("a1", "A", "new"), holder("a2", "A", "new")],
      newcomer: "A",
      expected: ["a1"],
    },
    {
      name: "address at its cap: its own debtor goes, not a bigger debtor elsewhere",
      max: 10,
      perAddress: 2,
      open: [
        holder("other", "B", "waiting", 50_000),
        holder("a1", "A", "working", 0),
        holder("a2", "A", "working", 4_000),
      ],
      newcomer: "A",
      expected: ["a2"],
    },
    {
      name: "address at its cap, all its own transferring: refused although slots are free",
      max: 10,
      perAddress: 2,
      open: [
        holder("other", "B", "new"),
        holder("a1", "A", "working"),
        holder("a2", "A", "working"),
      ],
      newcomer: "A",
      expected: undefined,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const slots = new ConnectionSlots<Holder>({
        maxConnections: c.max,
        maxPerAddress: c.perAddress,
      });
      c.open.forEach((h, i) => slots.add(h, i));
      const before = slots.size;
      // Long after they opened (at 0, 1, 2... ms), unless the case says when.
      const room = slots.makeRoom(c.newcomer, c.now ?? 60_000);
      assert.deepEqual(room?.map((h) => h.name), c.expected);
      assert.equal(
        slots.size,
        before - (room?.length ?? 0),
        "the closed ones are no longer counted",
      );
    });
  }
  await t.step("caps below 1 are refused", () => {
    assert.throws(() => new ConnectionSlots({ maxConnections: 0, maxPerAddress: 1 }), RangeError);
  });
});

Deno.test("server: a request header not complete within the header deadline closes the connection", async () => {
  await withServer(async ({ port }) => {
    using client = await RawClient.connect(port);
    const header = encodeRequestHeader(ZERO_CLIENT_ID, RequestCode.Register, 255);
    // Half a header, then a byte every 100 ms: well within the idle and request deadlines.
    await client.send(header.subarray(0, 12));
    const ending = client.readResponseOrEnd();
    let sent = 12;
    for (; sent < header.length - 1; sent++) {
      const closed = await Promise.race([ending.then(() => true), delay(100).then(() => false)]);
      if (closed) break;
      await client.send(header.subarray(sent, sent + 1)).catch(() => {});
    }
    assert.equal(await within("the server to close", ending, 5_000), null);
    assert.ok(sent < header.length - 1, "the whole header was accepted");
  }, { idleTimeoutMs: 10_000, requestTimeoutMs: 10_000, headerTimeoutMs: 400 });
});

Deno.test("server: a connection on which nobody signs in is closed at the sign-in deadline; a signed-in one stays", async () => {
  await withServer(async ({ port }) => {
    using signedIn = await RawClient.connect(port);
    const me = await signUp(signedIn, "Prompt Client");
    using registeredOnly = await RawClient.connect(port);
    await registeredOnly.register("Never Sends A Key");
    using silent = await RawClient.connect(port);
    await within(
      "the sign-in deadline",
      Promise.all([silent.readEnd(), registeredOnly.readEnd()]),
      5_000,
    );
    const received = await signedIn.upload(
      me.clientId,
      me.aesKey,
      "after.bin",
      new Uint8Array(100),
    );
    assert.equal(received.contentSize, 116);
  }, { idleTimeoutMs: 10_000, signInTimeoutMs: 500 });
});

Deno.test("server: past the per-address cap, that address's oldest unsigned connection makes room", async () => {
  await withServer(async ({ port }) => {
    const early = await Promise.all(Array.from({ length: 3 }, () => RawClient.connect(port)));
    try {
      await early[0]!.send(new Uint8Array(5)); // the oldest one, mid-header
      await delay(100);
      using newcomer = await RawClient.connect(port);
      await signUp(newcomer, "Newcomer");
      await within("the oldest one to be closed", early[0]!.readEnd(), 5_000);
    } finally {
      for (const client of early) client.close();
    }
  }, { maxConnectionsPerAddress: 3 });
});

Deno.test("server command line: --max-connections and --max-per-address set the slot limits", async (t) => {
  await t.step("parsed into the server's options", () => {
    const command = parseCommandLine(["--max-connections", "512", "--max-per-address", "8"]);
    assert.equal(command.kind, "serve");
    if (command.kind !== "serve") return;
    assert.equal(command.maxConnections, 512);
    assert.equal(command.maxConnectionsPerAddress, 8);
  });
  for (const args of [["--max-connections", "0"], ["--max-per-address", "many"]]) {
    await t.step(`${args.join(" ")} is a usage error`, () => {
      assert.throws(() => parseCommandLine(args), UsageError);
    });
  }
  await t.step("a server process holds one address to --max-per-address", async () => {
    const dir = await Deno.makeTempDir();
    const server = await ServerProcess.start(dir, [
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--no-secure",
      "--max-per-address",
      "2",
    ]);
    const early = await Promise.all([
      RawClient.connect(server.port),
      RawClient.connect(server.port),
    ]);
    try {
      using newcomer = await RawClient.connect(server.port);
      await signUp(newcomer, "Third From Here");
      await within(
        "one of the first two to be closed",
        Promise.race(early.map((c) => c.readEnd())),
        5_000,
      );
    } finally {
      for (const client of early) client.close();
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("server: a registration still being answered at the sign-in deadline finishes", async () => {
  await withServer(async ({ port }) => {
    const keys = await generateRsaKeyPair(); // made first: the deadline is short
    using client = await RawClient.connect(port);
    const clientId = await client.register("Slow Key");
    const frame = encodeRequest(clientId, {
      code: RequestCode.PublicKey,
      name: "Slow Key",
      publicKey: keys.publicKey,
    });
    // The header and half the payload before the deadline, the rest after it.
    await client.send(frame.subarray(0, REQUEST_HEADER_SIZE + 80));
    await delay(700);
    await client.send(frame.subarray(REQUEST_HEADER_SIZE + 80));
    await client.expect(ResponseCode.KeyAccepted);
  }, { idleTimeoutMs: 10_000, signInTimeoutMs: 400 });
});
