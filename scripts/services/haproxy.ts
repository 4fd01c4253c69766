/**
 * HAProxy in TCP mode on 127.0.0.1 in front of several server instances:
 * connections go round-robin; a connection to an instance that is gone is
 * sent to another one (`option redispatch`), and health checks take a dead
 * instance out within a second or two.
 *
 * @example
 * ```ts ignore
 * await using lb = await startHaproxy([portA, portB]);
 * console.log(lb.port);
 * ```
 *
 * @module
 */

import { join } from "node:path";
import {
  accepts,
  Daemon,
  freePort,
  removeFolder,
  requireProgram,
  run,
  serviceFolder,
} from "./daemon.ts";

/** The programs this service needs, with their Debian package. */
export const HAPROXY_PROGRAMS = [["haproxy", "haproxy"]] as const;

/** A running load balancer. */
export interface HaproxyService extends AsyncDisposable {
  /** The port clients connect to, on 127.0.0.1. */
  readonly port: number;
  /** The configuration it runs with. */
  readonly config: string;
  /** Stops it and removes its folder. */
  stop(): Promise<void>;
}

/**
 * The configuration: the same one the README's deployment section shows,
 * with the listening port and the instances filled in.
 */
export function haproxyConfig(port: number, backends: readonly number[]): string {
  const servers = backends.map((backend, i) =>
    `  server ft${i + 1} 127.0.0.1:${backend} check inter 1s fall 2 rise 1`
  );
  return [
    "global",
    "  maxconn 4096",
    "defaults",
    "  mode tcp",
    "  timeout connect 2s",
    "  timeout client 10m",
    "  timeout server 10m",
    "  retries 2",
    "  option redispatch",
    "frontend file_transfer",
    `  bind 127.0.0.1:${port}`,
    "  default_backend servers",
    "backend servers",
    "  balance roundrobin",
    ...servers,
    "",
  ].join("\n");
}

/** Starts HAProxy in front of the instances listening on `backends` (ports on 127.0.0.1). */
export async function startHaproxy(backends: readonly number[]): Promise<HaproxyService> {
  const haproxy = requireProgram("haproxy", "haproxy");
  const dir = await serviceFolder("haproxy");
  let daemon: Daemon | undefined;
  try {
    const port = freePort();
    const config = haproxyConfig(port, backends);
    const configPath = join(dir, "haproxy.cfg");
    await Deno.writeTextFile(configPath, config);
    await run(haproxy, ["-c", "-q", "-f", configPath], "check the HAProxy configuration");
    daemon = Daemon.spawn("haproxy", haproxy, ["-db", "-f", configPath], join(dir, "haproxy.log"));
    await daemon.waitUntil("listening", () => accepts(port), 10_000);
    const running = daemon;
    const stop = async () => {
      await running.stop("SIGTERM");
      await removeFolder(dir);
    };
    return { port, config, stop, [Symbol.asyncDispose]: stop };
  } catch (error) {
    await daemon?.kill();
    await removeFolder(dir);
    throw error;
  }
}
