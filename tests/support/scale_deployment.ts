/**
 * A scale-out deployment for the tests, all on 127.0.0.1: a PostgreSQL
 * registry (a fresh database), an S3 bucket (Ceph's gateway), server
 * instances as real processes sharing both, and HAProxy in front of them.
 * One set-up, so that every scale test starts, restarts and stops its
 * instances the same way, and releases everything it started, in reverse
 * order, even when a start fails half-way (`await using`).
 *
 * | step                          | what it starts                                              |
 * | ----------------------------- | ----------------------------------------------------------- |
 * | {@linkcode ScaleDeployment.start} | PostgreSQL and Ceph at once, a database, a folder       |
 * | `startInstance(s)`            | `server/main.ts` on the registry and bucket (`--host 127.0.0.1`) |
 * | `balance`                     | HAProxy over the instances (the plain port; with `securePort`, the secure and health ports too) |
 *
 * @example
 * ```ts ignore
 * await using deployment = await ScaleDeployment.start({
 *   prefix: "scale_x_",
 *   bucket: "x",
 *   database: "x",
 * });
 * await deployment.startInstances(["a", "b"], () => ["--port", "0"]);
 * const lb = await deployment.balance();
 * console.log(lb.port);
 * ```
 *
 * @module
 */

import { join } from "node:path";
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
} from "@aws-sdk/client-s3";
import type { S3Settings } from "../../server/storage/s3_client.ts";
import { waitUntil } from "./reliability.ts";
import { ServerProcess } from "./server_process.ts";
import {
  type HaproxyService,
  type PostgresService,
  type S3Service,
  startCeph,
  startHaproxy,
  startPostgres,
} from "./services.ts";

/** One server instance of a deployment: its process, folder and ports. */
export interface ScaleInstance {
  /** Its name, which is also its folder's under the deployment's root. */
  name: string;
  /** Its data folder. */
  dir: string;
  /** Its plain port. */
  port: number;
  /** Its secure port (any free one unless its arguments chose). */
  securePort: number | undefined;
  /** Its `--http` health and metrics port, when it has one. */
  httpPort: number | undefined;
  /** The process. */
  process: ServerProcess;
}

/** The S3 settings of `s3` as the server reads them from its environment. */
export function s3Env(s3: S3Service): Record<string, string> {
  return {
    FT_S3_ENDPOINT: s3.endpoint,
    AWS_REGION: s3.region,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  };
}

/** The settings that open `bucket` of `s3` in-process (an S3 file store, `openStorage`). */
export function s3Settings(s3: S3Service, bucket: string): S3Settings & { bucket: string } {
  return {
    endpoint: s3.endpoint,
    region: s3.region,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    bucket,
  };
}

/** A running deployment: see the module documentation. */
export class ScaleDeployment implements AsyncDisposable {
  /** The folder the instances' folders are made in. */
  readonly root: string;
  /** The PostgreSQL server. */
  readonly pg: PostgresService;
  /** The S3 gateway. */
  readonly s3: S3Service;
  /** The bucket the instances store in. */
  readonly bucket: string;
  /** The instances' registry. */
  readonly registryUrl: string;
  /** The instances started, in the order of their first start; a restart takes its place. */
  readonly instances: ScaleInstance[] = [];
  #balancers: HaproxyService[] = [];

  private constructor(
    root: string,
    pg: PostgresService,
    s3: S3Service,
    bucket: string,
    registryUrl: string,
  ) {
    this.root = root;
    this.pg = pg;
    this.s3 = s3;
    this.bucket = bucket;
    this.registryUrl = registryUrl;
  }

  /**
   * Starts PostgreSQL (with the database `database`) and Ceph (with
   * `bucket`) at once, in a new temporary root folder named `prefix…`; on a
   * failure, stops what did start and removes the folder.
   */
  static async start(
    options: { prefix: string; bucket: string; database: string },
  ): Promise<ScaleDeployment> {
    await using stack = new AsyncDisposableStack();
    const root = await Deno.makeTempDir({ prefix: options.prefix });
    stack.defer(() => Deno.remove(root, { recursive: true }));
    const [pg, s3] = await Promise.allSettled([
      startPostgres(),
      startCeph({ bucket: options.bucket }),
    ]);
    if (pg.status === "fulfilled") stack.defer(() => pg.value.stop());
    if (s3.status === "fulfilled") stack.defer(() => s3.value.stop());
    if (pg.status === "rejected") throw pg.reason;
    if (s3.status === "rejected") throw s3.reason;
    const registryUrl = await pg.value.createDatabase(options.database);
    const deployment = new ScaleDeployment(root, pg.value, s3.value, options.bucket, registryUrl);
    stack.move();
    return deployment;
  }

  /** `--registry` and `--store` of this deployment. */
  get storageArgs(): string[] {
    return ["--registry", this.registryUrl, "--store", `s3://${this.bucket}`];
  }

  /** The environment the instances run with (the S3 settings). */
  get env(): Record<string, string> {
    return s3Env(this.s3);
  }

  /**
   * Starts the instance `name` in `<root>/<name>` with `--host 127.0.0.1`,
   * `args` and the deployment's storage, and waits until it listens (and,
   * with `--http` in `args`, until its health listener does). A new name is
   * added to {@linkcode ScaleDeployment.instances}; the name of an instance
   * already there restarts it in its place (stop the old process first).
   */
  async startInstance(name: string, args: readonly string[]): Promise<ScaleInstance> {
    return this.#place(await this.#spawn(name, args));
  }

  /**
   * Starts the instances `names`, one after the other, or all at once with
   * `together` (then the first to record the deployment's identity wins);
   * {@linkcode ScaleDeployment.instances} keeps the order of `names`.
   */
  async startInstances(
    names: readonly string[],
    args: (name: string) => readonly string[],
    options: { together?: boolean } = {},
  ): Promise<ScaleInstance[]> {
    if (options.together !== true) {
      const started: ScaleInstance[] = [];
      for (const name of names) started.push(await this.startInstance(name, args(name)));
      return started;
    }
    const settled = await Promise.allSettled(names.map((name) => this.#spawn(name, args(name))));
    // Those that started are placed, so that the deployment stops them even if another failed.
    const started = settled.flatMap((result) =>
      result.status === "fulfilled" ? [this.#place(result.value)] : []
    );
    const failed = settled.find((result) => result.status === "rejected");
    if (failed !== undefined) throw failed.reason;
    return started;
  }

  /**
   * Starts an instance as {@linkcode ScaleDeployment.startInstance} does, but
   * leaves it out of {@linkcode ScaleDeployment.instances} (and so out of a
   * balancer started later): the caller stops it.
   */
  startOutside(name: string, args: readonly string[]): Promise<ScaleInstance> {
    return this.#spawn(name, args);
  }

  /** The whole command line of an instance with `args`: `--host 127.0.0.1`, `args`, the storage. */
  serverArgs(args: readonly string[]): string[] {
    return ["--host", "127.0.0.1", ...args, ...this.storageArgs];
  }

  async #spawn(name: string, args: readonly string[]): Promise<ScaleInstance> {
    const dir = join(this.root, name);
    const process = await ServerProcess.start(dir, this.serverArgs(args), { env: this.env });
    let httpPort: number | undefined;
    if (args.includes("--http")) {
      const httpLine = /Health on http:\/\/127\.0\.0\.1:(\d+)\//;
      try {
        await waitUntil("the health listener's log line", () => httpLine.test(process.stderr));
      } catch (error) {
        await process.stop();
        throw error;
      }
      httpPort = Number(httpLine.exec(process.stderr)?.[1]);
    }
    return { name, dir, port: process.port, securePort: process.securePort, httpPort, process };
  }

  #place(instance: ScaleInstance): ScaleInstance {
    const at = this.instances.findIndex((known) => known.name === instance.name);
    if (at === -1) this.instances.push(instance);
    else this.instances[at] = instance;
    return instance;
  }

  /**
   * Starts HAProxy over the instances: their plain ports, or with
   * `securePort` (the balancer's secure port, which the instances advertise)
   * their secure ports too, and their health ports where they have one.
   * Stopped with the deployment.
   */
  async balance(ports: { securePort?: number } = {}): Promise<HaproxyService> {
    const lb = ports.securePort === undefined
      ? await startHaproxy(this.instances.map((instance) => instance.port))
      : await startHaproxy(
        this.instances.map(({ port, securePort, httpPort }) => ({ port, securePort, httpPort })),
        { securePort: ports.securePort },
      );
    this.#balancers.push(lb);
    return lb;
  }

  /** The bytes of object `key`, or `undefined` where there is none. */
  async readObject(key: string): Promise<Uint8Array | undefined> {
    const client = this.s3.client();
    try {
      const got = await client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await got.Body!.transformToByteArray();
    } catch {
      return undefined;
    } finally {
      client.destroy();
    }
  }

  /** The size of object `key`, or `undefined` where there is none. */
  async objectSize(key: string): Promise<number | undefined> {
    const client = this.s3.client();
    try {
      return (await client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })))
        .ContentLength;
    } catch {
      return undefined;
    } finally {
      client.destroy();
    }
  }

  /** How many multipart uploads the bucket holds (staged files). */
  async stagedUploads(): Promise<number> {
    const client = this.s3.client();
    try {
      const listed = await client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket }));
      return (listed.Uploads ?? []).length;
    } finally {
      client.destroy();
    }
  }

  /** Stops the balancers, the instances, Ceph and PostgreSQL, and removes the root folder. */
  async [Symbol.asyncDispose](): Promise<void> {
    for (const lb of this.#balancers.reverse()) await lb.stop();
    for (const instance of this.instances) await instance.process.stop().catch(() => {});
    await this.s3.stop();
    await this.pg.stop();
    await Deno.remove(this.root, { recursive: true });
  }
}
