/**
 * Ports for the few tests that must name a port before a server process
 * starts: `port.info` read from the data folder, a compiled binary run from
 * its working directory, ports given to HAProxy in advance. {@linkcode freePort}
 * checks a port and hands it over, which another process may take in between;
 * everything else starts the server with port 0 and reads the bound port back
 * (`harness/server_process.ts`).
 *
 * @module
 */

import { delay } from "./reliability.ts";

/** A port free on 127.0.0.1 right now (the listener that found it is closed). */
export function freePort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return (listener.addr as Deno.NetAddr).port;
}

/**
 * Waits until something accepts connections on 127.0.0.1:`port`; fails at
 * once if `child` exits first, and after about 5 seconds otherwise.
 */
export async function waitForPort(port: number, child: Deno.ChildProcess): Promise<void> {
  let exited = false;
  child.status.then(() => exited = true);
  for (let i = 0; i < 200 && !exited; i++) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await delay(25);
    }
  }
  throw new Error(`Cannot reach the server process on port ${port}`);
}
