/**
 * A throwaway one-node Ceph cluster that speaks S3: one monitor, one OSD on
 * `memstore` (objects live in the OSD's memory), and radosgw with its `beast`
 * front end, all on 127.0.0.1 in a temporary folder. No manager, no
 * authentication, pools of size 1. Then an S3 user and a bucket.
 *
 * Settings that matter (measured on a 2-core machine):
 *
 * | setting                                         | without it                                 |
 * | ----------------------------------------------- | ------------------------------------------ |
 * | `paxos_propose_interval = 0.05`                 | the OSD and each pool take seconds         |
 * | `[client.rgw] auth_client_required = none`      | radosgw cannot talk to the monitor         |
 * | `[client.rgw] ms_mon_client_mode = crc`         | radosgw cannot talk to the monitor         |
 * | beast `tcp_nodelay=1`                           | each small request takes about 40 ms       |
 * | `osd_pool_default_pg_num = 8`, one OSD          | radosgw's pools exceed the PGs per OSD cap |
 *
 * @example
 * ```ts ignore
 * await using s3 = await startCeph();
 * console.log(s3.endpoint, s3.bucket);
 * ```
 *
 * @module
 */

import { errorMessage } from "../../common/error_message.ts";
import { CreateBucketCommand, type S3Client } from "@aws-sdk/client-s3";
import { createS3Client, describeS3Error } from "../../server/storage/s3_client.ts";
import { join } from "node:path";
import {
  accepts,
  Daemon,
  freePort,
  logTail,
  removeFolder,
  requireProgram,
  run,
  ServiceError,
  serviceFolder,
  sleep,
} from "./daemon.ts";

/** The programs this service needs, with their Debian package. */
export const CEPH_PROGRAMS = [
  ["monmaptool", "ceph-base"],
  ["ceph-authtool", "ceph-common"],
  ["ceph", "ceph-common"],
  ["radosgw-admin", "ceph-common"],
  ["ceph-mon", "ceph-mon"],
  ["ceph-osd", "ceph-osd"],
  ["radosgw", "radosgw"],
] as const;

/** Region name given to the S3 client (radosgw accepts any). */
export const CEPH_REGION = "us-east-1";

/** How to start the cluster. */
export interface CephOptions {
  /** Most bytes the OSD may hold in memory; default 4 GiB (allocated as used). */
  memstoreBytes?: number;
  /** Bucket to create; default `ft-test`. */
  bucket?: string;
}

/** A running S3 gateway, with credentials and a bucket. */
export interface S3Service extends AsyncDisposable {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** Region for the client. */
  readonly region: string;
  /** The user's access key. */
  readonly accessKeyId: string;
  /** The user's secret key. */
  readonly secretAccessKey: string;
  /** The bucket created at start. */
  readonly bucket: string;
  /** A client for this gateway with the settings it needs. */
  client(): S3Client;
  /** Creates another bucket. */
  createBucket(name: string): Promise<void>;
  /** Kills radosgw, the OSD and the monitor, and removes the folder. */
  stop(): Promise<void>;
}

function cephConf(dir: string, fsid: string, monPort: number, rgwPort: number, bytes: number) {
  return `[global]
fsid = ${fsid}
mon_host = v1:127.0.0.1:${monPort}
mon_initial_members = a
public_addr = 127.0.0.1
ms_bind_ipv6 = false
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
auth_allow_insecure_global_id_reclaim = true
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
osd_crush_chooseleaf_type = 0
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
mon_max_pg_per_osd = 1000
paxos_propose_interval = 0.05
osd_objectstore = memstore
memstore_device_bytes = ${bytes}
run_dir = ${dir}/run
log_file = ${dir}/log/$name.log
log_to_stderr = false
mon_data = ${dir}/mon/$name
osd_data = ${dir}/osd/$name
keyring = ${dir}/keyring
rgw_data = ${dir}/rgw
[mon]
admin_socket = ${dir}/run/$name.asok
[osd]
osd_class_update_on_start = false
osd_crush_update_on_start = false
admin_socket = ${dir}/run/$name.asok
[client.rgw]
admin_socket = ${dir}/run/$name.asok
auth_client_required = none
ms_mon_client_mode = crc
rgw_frontends = beast endpoint=127.0.0.1:${rgwPort} tcp_nodelay=1
rgw_gc_obj_min_wait = 0
rgw_gc_processor_period = 5
`;
}

/** Runs `step` up to 5 times, 300 ms apart; the last failure comes with the tail of `log`. */
async function retry(log: string, step: () => Promise<unknown>): Promise<void> {
  for (let attempt = 1;; attempt++) {
    try {
      await step();
      return;
    } catch (error) {
      if (attempt === 5) {
        throw new ServiceError(`${errorMessage(error)}\n${await logTail(log)}`, {
          cause: error,
        });
      }
      await sleep(300);
    }
  }
}

/** Whether radosgw answers an S3 request at `endpoint`. */
async function gatewayAnswers(endpoint: string, port: number): Promise<boolean> {
  if (!await accepts(port)) return false;
  try {
    const response = await fetch(endpoint, { signal: AbortSignal.timeout(2_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/** The cluster's folder, configuration and ports, shared by the steps below. */
interface Cluster {
  dir: string;
  fsid: string;
  conf: string;
  monPort: number;
  rgwPort: number;
  programs: Record<(typeof CEPH_PROGRAMS)[number][0], string>;
  daemons: Daemon[];
}

/**
 * Starts the cluster, creates a user and a bucket; throws a
 * {@linkcode ServiceError} with the failing daemon's log when it cannot.
 */
export async function startCeph(options: CephOptions = {}): Promise<S3Service> {
  const programs = Object.fromEntries(
    CEPH_PROGRAMS.map(([program, pkg]) => [program, requireProgram(program, pkg)]),
  ) as Cluster["programs"];
  const dir = await serviceFolder("ceph");
  const cluster: Cluster = {
    dir,
    fsid: crypto.randomUUID(),
    conf: join(dir, "ceph.conf"),
    monPort: freePort(),
    rgwPort: freePort(),
    programs,
    daemons: [],
  };
  const stop = async () => {
    for (const daemon of cluster.daemons.reverse()) await daemon.stop();
    await removeFolder(dir);
  };
  try {
    await writeConfiguration(cluster, options.memstoreBytes ?? 4 * 1024 ** 3);
    await startMonitor(cluster);
    await startOsd(cluster);
    const endpoint = await startGateway(cluster);
    const credentials = await createS3User(cluster);
    const client = () => createS3Client({ endpoint, region: CEPH_REGION, ...credentials });
    const createBucket = (name: string) => createBucketWith(client(), name);
    const bucket = options.bucket ?? "ft-test";
    await createBucket(bucket);
    return {
      endpoint,
      region: CEPH_REGION,
      ...credentials,
      bucket,
      client,
      createBucket,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Makes the cluster's folders and writes its ceph.conf. */
async function writeConfiguration(cluster: Cluster, memstoreBytes: number): Promise<void> {
  for (const sub of ["run", "log", "mon", "osd/osd.0", "rgw"]) {
    await Deno.mkdir(join(cluster.dir, sub), { recursive: true });
  }
  await Deno.writeTextFile(
    cluster.conf,
    cephConf(cluster.dir, cluster.fsid, cluster.monPort, cluster.rgwPort, memstoreBytes),
  );
}

/** Creates the monitor's map, keyring and store, then runs it until it listens. */
async function startMonitor(cluster: Cluster): Promise<void> {
  const { dir, conf, fsid, programs } = cluster;
  const monmap = join(dir, "monmap");
  await run(programs.monmaptool, [
    "--create",
    "--clobber",
    "--fsid",
    fsid,
    "--addv",
    "a",
    `[v1:127.0.0.1:${cluster.monPort}]`,
    monmap,
  ], "create the Ceph monitor map");
  await run(programs["ceph-authtool"], [
    "--create-keyring",
    join(dir, "keyring"),
    "--gen-key",
    "-n",
    "mon.",
    "--cap",
    "mon",
    "allow *",
  ], "create the Ceph keyring");
  await run(
    programs["ceph-mon"],
    ["-c", conf, "--mkfs", "-i", "a", "--monmap", monmap],
    "create the Ceph monitor's store",
  );
  const mon = Daemon.spawn(
    "ceph-mon",
    programs["ceph-mon"],
    ["-f", "-c", conf, "-i", "a"],
    join(dir, "log", "mon.a.out"),
  );
  cluster.daemons.push(mon);
  await mon.waitUntil("listening", () => accepts(cluster.monPort), 15_000);
}

/** Registers OSD 0 with the monitor, creates its store and runs it. */
async function startOsd(cluster: Cluster): Promise<void> {
  const { dir, conf, programs } = cluster;
  // The OSD's own start-up commands (device class, crush location) may reach
  // the monitor before the client knows the cluster's fsid, which makes the
  // OSD give up; they are turned off in ceph.conf and done here, in one CLI
  // run, retried while the monitor refuses them for that same reason.
  const osdUuid = crypto.randomUUID();
  const osdId = "0";
  await retry(join(dir, "log", "mon.a.log"), () =>
    run(
      "sh",
      [
        "-c",
        'printf "%s\\n" "osd new $2 0" "osd crush add osd.0 1 root=default" | "$1" -c "$3" --connect-timeout 20',
        "sh",
        programs.ceph,
        osdUuid,
        conf,
      ],
      "add an OSD to the Ceph cluster",
      { timeoutMs: 30_000 },
    ));
  await run(programs["ceph-osd"], [
    "-c",
    conf,
    "-i",
    osdId,
    "--mkfs",
    "--osd-uuid",
    osdUuid,
  ], "create the OSD's store");
  cluster.daemons.push(Daemon.spawn(
    "ceph-osd",
    programs["ceph-osd"],
    ["-f", "-c", conf, "-i", osdId],
    join(dir, "log", `osd.${osdId}.out`),
  ));
}

/** Runs radosgw until it answers S3; returns its endpoint. */
async function startGateway(cluster: Cluster): Promise<string> {
  const { dir, conf, programs, rgwPort } = cluster;
  const endpoint = `http://127.0.0.1:${rgwPort}`;
  const rgw = Daemon.spawn(
    "radosgw",
    programs.radosgw,
    ["-f", "-c", conf, "-n", "client.rgw"],
    join(dir, "log", "client.rgw.out"),
  );
  cluster.daemons.push(rgw);
  try {
    await rgw.waitUntil("answering S3", () => gatewayAnswers(endpoint, rgwPort), 60_000, 50);
  } catch (error) {
    const more = [
      await logTail(join(dir, "log", "client.rgw.log")),
      await logTail(join(dir, "log", "osd.0.log"), 15),
    ].join("\n");
    throw new ServiceError(`${errorMessage(error)}\n${more}`, { cause: error });
  }
  return endpoint;
}

/** Creates the S3 user the tests sign their requests as. */
async function createS3User(
  cluster: Cluster,
): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  const accessKeyId = "ft-test-access";
  const secretAccessKey = crypto.randomUUID();
  await run(cluster.programs["radosgw-admin"], [
    "-c",
    cluster.conf,
    "-n",
    "client.admin",
    "user",
    "create",
    "--uid=ft",
    "--display-name=ft",
    `--access-key=${accessKeyId}`,
    `--secret-key=${secretAccessKey}`,
  ], "create the S3 user");
  return { accessKeyId, secretAccessKey };
}

/** Creates bucket `name` with `s3`, then closes the client. */
async function createBucketWith(s3: S3Client, name: string): Promise<void> {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
  } catch (error) {
    throw new ServiceError(`Cannot create bucket ${name}: ${describeS3Error(error)}`, {
      cause: error,
    });
  } finally {
    s3.destroy();
  }
}
