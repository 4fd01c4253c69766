/**
 * The sign-in deadline on a manual clock (no waiting): it expires when nobody
 * signed in, lets a request in progress finish, is met by a sign-in, and is
 * silent once stopped. And every way a connection ends maps to its reason
 * and its words, in one table.
 */

import assert from "node:assert/strict";
import { ProtocolError } from "../protocol/mod.ts";
import { manualClock, SignInDeadline } from "../server/session/deadlines.ts";
import {
  describeEnd,
  type EndFacts,
  endReasonOf,
  MAX_REJECTIONS,
} from "../server/session/end_reason.ts";

function deadline() {
  const clock = manualClock();
  let expired = 0;
  const signIn = new SignInDeadline(15_000, () => expired++, clock);
  signIn.start();
  return { clock, signIn, expired: () => expired };
}

Deno.test("the sign-in deadline", async (t) => {
  await t.step("expires at its time when nobody signed in", () => {
    const { clock, signIn, expired } = deadline();
    clock.advance(14_999);
    assert.equal(expired(), 0);
    clock.advance(1);
    assert.equal(expired(), 1);
    assert.equal(signIn.state, "expired");
  });
  await t.step("is met by a sign-in, and its timer is cleared", () => {
    const { clock, signIn, expired } = deadline();
    signIn.requestStarted();
    signIn.requestDone(true);
    assert.equal(clock.pending, 0);
    clock.advance(60_000);
    assert.equal(expired(), 0);
    assert.equal(signIn.state, "met");
  });
  await t.step("lets a request in progress finish, then expires if it signed nobody in", () => {
    const { clock, signIn, expired } = deadline();
    signIn.requestStarted();
    clock.advance(20_000);
    assert.equal(expired(), 0);
    assert.equal(signIn.state, "overdue");
    signIn.requestDone(false);
    assert.equal(expired(), 1);
  });
  await t.step("lets a request in progress finish, and is met if it signed a client in", () => {
    const { clock, signIn, expired } = deadline();
    signIn.requestStarted();
    clock.advance(20_000);
    signIn.requestDone(true);
    assert.equal(expired(), 0);
    assert.equal(signIn.state, "met");
  });
  await t.step("counts on between requests that sign nobody in", () => {
    const { clock, signIn, expired } = deadline();
    signIn.requestStarted();
    clock.advance(10_000);
    signIn.requestDone(false);
    clock.advance(5_000);
    assert.equal(expired(), 1);
  });
  await t.step("is silent once stopped", () => {
    const { clock, signIn, expired } = deadline();
    signIn.stop();
    clock.advance(60_000);
    assert.equal(expired(), 0);
    assert.equal(clock.pending, 0);
    assert.equal(signIn.state, "stopped");
  });
});

Deno.test("every way a connection ends has its reason and its words", async (t) => {
  const quiet: EndFacts = {
    eviction: undefined,
    expired: undefined,
    stopping: false,
    closed: false,
    secure: false,
    betweenRequests: false,
  };
  const eof = new Deno.errors.UnexpectedEof("early eof");
  const cases: Array<[string, unknown, Partial<EndFacts>, string]> = [
    [
      "evicted to make room",
      new Deno.errors.BadResource("closed"),
      {
        eviction: { kind: "room", cap: "2 connections are open", peer: "127.0.0.1:9" },
        closed: true,
      },
      "2 connections are open: room made for 127.0.0.1:9",
    ],
    [
      "a signed-in one evicted for its slot debt",
      new Deno.errors.BadResource("closed"),
      {
        eviction: {
          kind: "room",
          cap: "2 connections are open",
          peer: "127.0.0.1:9",
          debtMs: 3_240,
        },
        closed: true,
      },
      "2 connections are open: room made for 127.0.0.1:9 (this one owed 3.2 s of slot debt)",
    ],
    [
      "nobody signed in",
      new Deno.errors.BadResource("closed"),
      { eviction: { kind: "sign-in-deadline", timeoutMs: 15_000 }, closed: true },
      "nobody signed in within 15 s",
    ],
    ["header deadline", eof, { expired: "header" }, "request timeout"],
    ["request deadline", eof, { expired: "request" }, "request timeout"],
    ["idle deadline", eof, { expired: "idle" }, "idle timeout"],
    ["shutdown grace over", eof, { stopping: true, closed: true }, "the server is shutting down"],
    ["a frame that does not parse", new ProtocolError("bad"), {}, "protocol error"],
    ["TLS failed", new Deno.errors.InvalidData("bad record"), { secure: true }, "TLS error"],
    [
      "TLS without close_notify between requests",
      eof,
      { secure: true, betweenRequests: true },
      "the client closed it",
    ],
    ["ended inside a request", eof, { secure: true }, "truncated frame"],
    ["reset", new Deno.errors.ConnectionReset("reset"), {}, "connection lost"],
    ["a bug", new TypeError("oops"), {}, "internal error"],
  ];
  for (const [name, error, facts, words] of cases) {
    await t.step(name, () => {
      assert.equal(describeEnd(endReasonOf(error, { ...quiet, ...facts })), words);
    });
  }
  await t.step("too many rejections", () => {
    assert.equal(describeEnd({ kind: "rejections" }), `${MAX_REJECTIONS} requests were rejected`);
  });
});
