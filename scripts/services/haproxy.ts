/**
 * HAProxy in TCP mode on 127.0.0.1 in front of several server instances:
 * connections go round-robin, on the plain port and (with the secure mode)
 * on the secure port, whose TLS it passes through untouched; a connection to
 * an instance that is gone is sent to another one (`option redispatch`), and
 * health checks (HTTP `GET /healthz` on the instances' `--http` listener, or
 * bare TCP connections without one) take a dead or stopping instance out
 * within a second or two.
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

/** One server instance behind the balancer: its ports on 127.0.0.1. */
export interface Backend {
  /** The plain port. */
  port: number;
  /** The secure (TLS) port, forwarded as it is (TCP mode: HAProxy does not terminate TLS). */
  securePort?: number | undefined;
  /** The health listener (`--http`), for `option httpchk GET /healthz`. */
  httpPort?: number | undefined;
}

/** Where the balancer listens. */
export interface FrontendPorts {
  /** The plain port clients connect to; default any free port. */
  port?: number;
  /** The secure port clients pin (the instances' `--public-secure-port`); default any free port. */
  securePort?: number;
  /**
   * The address HAProxy connects to the instances from (`source`), such as
   * `127.0.0.2`: the instances' logs then show which connections came
   * through it (`bench/scale.ts` checks so); default the system's choice.
   */
  sourceAddress?: string;
}

/** A running load balancer. */
export interface HaproxyService extends AsyncDisposable {
  /** The plain port clients connect to, on 127.0.0.1. */
  readonly port: number;
  /** The secure port, when the backends have one. */
  readonly securePort: number | undefined;
  /** The configuration it runs with. */
  readonly config: string;
  /** Stops it and removes its folder. */
  stop(): Promise<void>;
}

/** A backend's `server` line: TCP checks, or HTTP checks on its health listener. */
function serverLine(name: string, port: number, backend: Backend): string {
  const check = backend.httpPort === undefined
    ? "check inter 1s fall 2 rise 1"
    : `check port ${backend.httpPort} inter 1s fall 2 rise 1`;
  return `  server ${name} 127.0.0.1:${port} ${check}`;
}

/** One frontend and its backend: the plain or the secure port of every instance. */
function section(
  name: string,
  port: number,
  backends: readonly Backend[],
  portOf: (backend: Backend) => number,
  sourceAddress: string | undefined,
): string[] {
  const health = backends.some((backend) => backend.httpPort !== undefined)
    ? ["  option httpchk GET /healthz", "  http-check expect status 200"]
    : [];
  return [
    `frontend ${name}`,
    `  bind 127.0.0.1:${port}`,
    `  default_backend ${name}_servers`,
    `backend ${name}_servers`,
    "  balance roundrobin",
    ...(sourceAddress === undefined ? [] : [`  source ${sourceAddress}`]),
    ...health,
    ...backends.map((backend, i) => serverLine(`ft${i + 1}`, portOf(backend), backend)),
  ];
}

/**
 * The configuration: the same one the README's deployment section shows,
 * with the listening ports and the instances filled in. With secure ports,
 * a second frontend forwards TLS untouched (TCP mode), so every instance
 * presents the deployment's one certificate to the client itself.
 */
export function haproxyConfig(
  port: number,
  backends: readonly (number | Backend)[],
  securePort?: number,
  sourceAddress?: string,
): string {
  const all = backends.map((backend) => typeof backend === "number" ? { port: backend } : backend);
  const secure =
    all.every((backend) => backend.securePort !== undefined) && securePort !== undefined
      ? section(
        "file_transfer_secure",
        securePort,
        all,
        (backend) => backend.securePort!,
        sourceAddress,
      )
      : [];
  return [
    "global",
    "  maxconn 4096",
    "defaults",
    "  mode tcp",
    "  timeout connect 2s",
    "  timeout client 10m",
    "  timeout server 10m",
    "  timeout check 2s",
    "  retries 2",
    "  option redispatch",
    ...section("file_transfer", port, all, (backend) => backend.port, sourceAddress),
    ...secure,
    "",
  ].join("\n");
}

/**
 * Starts HAProxy in front of the instances listening on `backends` (ports on
 * 127.0.0.1, or {@linkcode Backend}s with their secure and health ports).
 */
export async function startHaproxy(
  backends: readonly (number | Backend)[],
  ports: FrontendPorts = {},
): Promise<HaproxyService> {
  const haproxy = requireProgram("haproxy", "haproxy");
  const dir = await serviceFolder("haproxy");
  let daemon: Daemon | undefined;
  try {
    const port = ports.port ?? freePort();
    const secure = backends.some((backend) => typeof backend !== "number" && backend.securePort);
    const securePort = secure ? ports.securePort ?? freePort() : undefined;
    const config = haproxyConfig(port, backends, securePort, ports.sourceAddress);
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
    return { port, securePort, config, stop, [Symbol.asyncDispose]: stop };
  } catch (error) {
    await daemon?.kill();
    await removeFolder(dir);
    throw error;
  }
}
