/**
 * Progress on stderr: a bar with bytes, percent, speed and time left on a
 * terminal; a few plain lines elsewhere; nothing but notes when quiet.
 */

import assert from "node:assert/strict";
import { formatBytes } from "../common/units.ts";
import { formatBar, formatDuration, Progress } from "../client/progress.ts";

function recorder() {
  let text = "";
  const decoder = new TextDecoder();
  return {
    sink: {
      writeSync(p: Uint8Array): number {
        text += decoder.decode(p);
        return p.length;
      },
    },
    text: () => text,
  };
}

/** Feeds 100 updates of 1 MB, one simulated second apart. */
function feed(progress: Progress, clock: { now: number }): void {
  for (let i = 1; i <= 100; i++) {
    clock.now += 1000;
    progress.update(i * 1_000_000, 100_000_000, 1);
  }
  progress.end();
}

Deno.test("on a terminal the bar shows bytes, percent, speed and time left", () => {
  const out = recorder();
  const clock = { now: 0 };
  const progress = new Progress({
    sink: out.sink,
    terminal: true,
    quiet: false,
    now: () => clock.now,
  });
  feed(progress, clock);
  const frames = out.text().split("\r\u001b[2K");
  assert.ok(
    frames.includes("[############------------] 50.0 MB / 100.0 MB 50% 1.0 MB/s 0:49 left"),
  );
  assert.equal(
    frames.at(-1),
    "[########################] 100.0 MB / 100.0 MB 100% 1.0 MB/s 0:00 left\n",
  );
});

Deno.test("elsewhere a few plain lines, one per quarter", () => {
  const out = recorder();
  const clock = { now: 0 };
  const progress = new Progress({
    sink: out.sink,
    terminal: false,
    quiet: false,
    now: () => clock.now,
  });
  feed(progress, clock);
  const lines = out.text().trimEnd().split("\n");
  assert.equal(lines.length, 5);
  assert.ok(lines.every((line) => /^client: sent .* of 100\.0 MB \(\d+%\)/.test(line)));
  assert.ok(!out.text().includes("\r") && !out.text().includes("\u001b"));
});

Deno.test("quiet shows notes only", () => {
  const out = recorder();
  const clock = { now: 0 };
  const progress = new Progress({
    sink: out.sink,
    terminal: true,
    quiet: true,
    now: () => clock.now,
  });
  progress.info("registered");
  feed(progress, clock);
  progress.note("retry 1 of 3");
  assert.equal(out.text(), "client: retry 1 of 3\n");
});

Deno.test("formatBytes with a fixed decimal, as progress lines print it, and formatDuration", () => {
  assert.equal(formatBytes(999, { fixed: true }), "999 B");
  assert.equal(formatBytes(800_000_000, { fixed: true }), "800.0 MB");
  assert.equal(formatBytes(999_999, { fixed: true }), "1.0 MB");
  assert.equal(formatDuration(59), "0:59");
  assert.equal(formatDuration(3661), "1:01:01");
  assert.equal(formatDuration(Infinity), "--:--");
});

/** Feeds a 800 MB upload at 999.9 MB/s on a terminal of `columns` columns; returns every frame. */
function framesAt(columns: number): string[] {
  const out = recorder();
  const clock = { now: 0 };
  const progress = new Progress({
    sink: out.sink,
    terminal: true,
    quiet: false,
    now: () => clock.now,
    columns: () => columns,
  });
  for (let i = 1; i <= 100; i++) {
    clock.now += 8;
    progress.update(i * 8_000_000, 800_000_000, 1);
  }
  progress.end();
  return out.text().split("\r\u001b[2K").filter((frame) => frame !== "");
}

Deno.test("the bar fits the terminal at 40, 50, 80 and 120 columns, on one line", async (t) => {
  for (const columns of [40, 50, 80, 120]) {
    await t.step(`${columns} columns`, () => {
      const frames = framesAt(columns);
      assert.ok(frames.length > 1);
      for (const frame of frames) {
        const line = frame.replace(/\n$/, "");
        assert.ok(line.length < columns, `${line.length} characters: ${JSON.stringify(line)}`);
        assert.ok(!line.includes("\n"), "one line per frame: no trail");
        assert.match(line, /^\[[#-]+\] .*\d+%/);
      }
      // Only the final frame ends the line.
      assert.equal(frames.filter((frame) => frame.endsWith("\n")).length, 1);
    });
  }
});

Deno.test("formatBar drops the time left, the speed, then the counts as the terminal narrows", () => {
  const state = { sent: 400_000_000, total: 800_000_000, speed: 999_900_000, left: 1 };
  assert.equal(
    formatBar(state, 120),
    "[############------------] 400.0 MB / 800.0 MB 50% 999.9 MB/s 0:01 left",
  );
  assert.equal(formatBar(state, 50), "[######------] 400.0 MB / 800.0 MB 50% 999.9 MB/s");
  assert.equal(formatBar(state, 40), "[#######------] 400.0 MB / 800.0 MB 50%");
  assert.equal(formatBar(state, 20), "[#######------] 50%");
  assert.equal(formatBar(state, 4), "50%");
  assert.equal(
    formatBar({ sent: 0, total: 0, speed: 0, left: 0 }, 80).includes("0 B / 0 B 100%"),
    true,
  );
});

Deno.test("start() starts the clock, so the first frame has a speed, and a finished file has no time left", () => {
  const out = recorder();
  const clock = { now: 0 };
  const progress = new Progress({
    sink: out.sink,
    terminal: true,
    quiet: false,
    now: () => clock.now,
  });
  progress.start();
  clock.now += 500;
  progress.update(6, 6, 1);
  progress.end();
  assert.equal(
    out.text(),
    "\r\u001b[2K[########################] 6 B / 6 B 100% 12 B/s 0:00 left\n",
  );
});
