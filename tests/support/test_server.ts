/**
 * Starts a real server on 127.0.0.1, port 0, in a fresh temporary data
 * folder, for one test; closes it and removes the folder afterwards.
 *
 * @module
 */

import { type RunningServer, type ServerOptions, startServer } from "../../server/server.ts";

/** A running test server and its data folder. */
export interface TestServer {
  /** The server. */
  server: RunningServer;
  /** Its port. */
  port: number;
  /** Its data folder. */
  dir: string;
}

/**
 * Runs `fn` against a fresh server. `options` may override anything but the
 * folder (pass `dir` to reuse one, which is then not removed).
 */
export async function withServer(
  fn: (test: TestServer) => Promise<void>,
  options: Partial<ServerOptions> = {},
): Promise<void> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "server_test_" });
  try {
    const server = await startServer({ host: "127.0.0.1", port: 0, ...options, dir });
    try {
      await fn({ server, port: server.port, dir });
    } finally {
      await server.close();
    }
  } finally {
    if (ownDir) await Deno.remove(dir, { recursive: true });
  }
}
