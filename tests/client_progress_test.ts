/**
 * Progress on stderr: a bar with bytes, percent, speed and time left on a
 * terminal; a few plain lines elsewhere; nothing but notes when quiet.
 */

import assert from "node:assert/strict";
import { formatBytes, formatDuration, Progress } from "../client/progress.ts";

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

Deno.test("formatBytes and formatDuration", () => {
  assert.equal(formatBytes(999), "999 B");
  assert.equal(formatBytes(800_000_000), "800.0 MB");
  assert.equal(formatDuration(59), "0:59");
  assert.equal(formatDuration(3661), "1:01:01");
  assert.equal(formatDuration(Infinity), "--:--");
});
