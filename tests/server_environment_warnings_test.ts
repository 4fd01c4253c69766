/**
 * Settings the server will not use are a warning at start-up, never silently
 * ignored: storage variables it may not read (no `--allow-env`), variables
 * overridden by an option or meaningless for the chosen store, unknown `FT_*`
 * names, and a shared registry whose files stay in one instance's folder.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type EnvironmentView,
  environmentWarnings,
  storageSelection,
} from "../server/storage/storage_selection.ts";
import { ServerProcess } from "./support/server_process.ts";

function view(vars: Record<string, string>, unreadable: string[] = []): EnvironmentView {
  return {
    get: (name) => unreadable.includes(name) ? undefined : vars[name],
    mayRead: (name) => !unreadable.includes(name),
    names: () => unreadable.length > 0 ? undefined : Object.keys(vars),
  };
}

const CASES: {
  name: string;
  options?: { registry?: string; store?: string };
  vars?: Record<string, string>;
  unreadable?: string[];
  expect: RegExp[];
}[] = [
  { name: "nothing set: no warning", expect: [] },
  {
    name: "no --allow-env: the storage variables cannot be read",
    unreadable: ["FT_REGISTRY_URL", "FT_STORE"],
    expect: [/^Cannot read FT_REGISTRY_URL and FT_STORE from the environment: .*--allow-env/],
  },
  {
    name: "no --allow-env with both options given: nothing to read",
    options: { registry: "postgres://u@h/db", store: "/mnt/shared" },
    unreadable: ["FT_REGISTRY_URL", "FT_STORE"],
    expect: [],
  },
  {
    name: "S3 settings without an s3:// store",
    vars: { FT_S3_ENDPOINT: "http://s3:7480", AWS_ACCESS_KEY_ID: "k" },
    expect: [/^FT_S3_ENDPOINT, AWS_ACCESS_KEY_ID are set but not used: the files go to folder/],
  },
  {
    name: "an option overrides a different environment value",
    options: { registry: "postgres://u@a/db" },
    vars: { FT_REGISTRY_URL: "postgres://u@b/db" },
    expect: [
      /^FT_REGISTRY_URL is set but not used: --registry gives another value/,
      /^The registry is shared \(PostgreSQL\) but the files go to this instance's own/,
    ],
  },
  {
    name: "a misspelt FT_ name",
    vars: { FT_REGISTRY: "postgres://u@b/db" },
    expect: [/^FT_REGISTRY is set but not used: the server reads FT_REGISTRY_URL/],
  },
  {
    name: "PostgreSQL with S3: no warning",
    vars: {
      FT_REGISTRY_URL: "postgres://u@b/db",
      FT_STORE: "s3://files",
      FT_S3_ENDPOINT: "http://s3:7480",
      AWS_ACCESS_KEY_ID: "k",
      AWS_SECRET_ACCESS_KEY: "s",
    },
    expect: [],
  },
];

Deno.test("server storage selection: every setting it will not use is a warning", async (t) => {
  for (const c of CASES) {
    await t.step(c.name, () => {
      const env = view(c.vars ?? {}, c.unreadable);
      const options = c.options ?? {};
      const selection = storageSelection(options, env.get, env.mayRead);
      const warnings = environmentWarnings(options, selection, env);
      assert.equal(warnings.length, c.expect.length, warnings.join("\n"));
      c.expect.forEach((pattern, i) => assert.match(warnings[i]!, pattern));
    });
  }
});

Deno.test("server storage selection: an s3:// store whose settings the server may not read says --allow-env", () => {
  assert.throws(
    () =>
      storageSelection({ store: "s3://files" }, () => undefined, (name) => name === "AWS_REGION"),
    /Cannot use store s3:\/\/files: the server may not read FT_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY from the environment; run it with --allow-env/,
  );
});

Deno.test("server main: started without --allow-env, it warns that FT_REGISTRY_URL is out of reach", async () => {
  const dir = await Deno.makeTempDir({ prefix: "server_env_" });
  try {
    const server = await ServerProcess.start(dir, ["--host", "127.0.0.1", "--port", "0"], {
      env: { FT_REGISTRY_URL: "postgres://ft@127.0.0.1:1/ft" },
      allowEnv: false,
    });
    await server.stop();
    assert.match(
      server.stderr,
      /WRN\] server: Cannot read FT_REGISTRY_URL and FT_STORE from the environment: the server runs without --allow-env/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("server main: S3 settings without an s3:// store are a warning at start-up", async () => {
  const dir = await Deno.makeTempDir({ prefix: "server_env_" });
  try {
    const server = await ServerProcess.start(dir, ["--host", "127.0.0.1", "--port", "0"], {
      env: { FT_S3_ENDPOINT: "http://127.0.0.1:1", AWS_ACCESS_KEY_ID: "k" },
    });
    await server.stop();
    assert.match(
      server.stderr,
      /WRN\] server: FT_S3_ENDPOINT, AWS_ACCESS_KEY_ID are set but not used: the files go to folder received_files/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
