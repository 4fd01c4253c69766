/**
 * The server's usage text, what `server --help` prints: the commands, every
 * option with its default, and the exit codes. The defaults come from the
 * modules that apply them, so the text cannot drift from the code.
 *
 * @module
 */

import { DEFAULT_MAX_FILE_SIZE, MAX_ENCODABLE_FILE_SIZE } from "../../protocol/mod.ts";
import { formatBytes } from "../../common/units.ts";
import { DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES } from "../storage/registry.ts";
import {
  DEFAULT_FLOOR_RATE,
  DEFAULT_FORGET_UNUSED_AFTER_MS,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  DEFAULT_MAX_PER_IDENTITY,
  DEFAULT_REGISTRATIONS_PER_MINUTE,
  DEFAULT_VERDICT_TIMEOUT_MS,
} from "../server.ts";

/** The usage text of `server --help`. */
export const USAGE = `Usage: server [options]                      run the server
       server clients [--json]               list the registered clients, and when
                                             the names without files are freed
                                             (--forget-unused-after H: the server's)
       server files [NAME] [--json]          list the stored files (of client NAME)
       server forget NAME [--delete-files]   forget a client: its name is free again;
                                             with --delete-files, its files are deleted too
       server fingerprint                    print the secure mode's certificate
                                             fingerprint, which clients pin
       server identity FILE                  make a new identity file for --identity
       server rotate-identity [FILE] [--registry URL]
                                             make FILE (or a new identity) the
                                             deployment's; restart every instance

Receives files from clients over the protocol v3 (see docs/protocol.md). The
operator commands work on the same data folder, also while the server runs.

Options:
  --dir DIR             data folder: port.info, received_files/, server.db, server.log
                        (default: the working directory)
  --port PORT           port to listen on; overrides port.info (default: port.info, else 1256)
  --host HOST           address to listen on (default: all, IPv6 and IPv4)
  --secure-port PORT    the secure mode's TLS port (default: the port plus one)
  --no-secure           no secure mode: no TLS port, plain protocol v3 only
  --identity FILE       the secure mode's identity (made by server identity FILE;
                        default: server_identity.pem in --dir, or the deployment's
                        in a shared --registry)
  --http HOST:PORT      health (GET /healthz) and metrics (GET /metrics, Prometheus)
                        on this address, such as 127.0.0.1:9100 (default: off)
  --public-secure-port PORT
                        the secure port clients reach, named in the discovery
                        answer: a load balancer's (default: --secure-port)
  --max-file-size SIZE  largest file accepted: 800MB, 1.5GB, 512MiB, or bytes
                        (default: ${formatBytes(DEFAULT_MAX_FILE_SIZE)}; at most ${
  formatBytes(MAX_ENCODABLE_FILE_SIZE)
}, what the protocol carries)
  --max-files N         most files one client may store (default: ${DEFAULT_MAX_FILES})
  --max-stored SIZE     most bytes one client may store: 100GB, 1TiB, or bytes
                        (default: ${formatBytes(DEFAULT_MAX_BYTES)})
  --partial-ttl TIME    how long the bytes of a cut upload are kept for the
                        client to resume (secure port): 90m, 24h, 7d, or
                        seconds (default: 24h); they count against --max-stored
  --max-connections N   most connections open at once (default: ${DEFAULT_MAX_CONNECTIONS})
  --max-per-address N   most connections open at once from one address
                        (default: ${DEFAULT_MAX_CONNECTIONS_PER_ADDRESS})
  --max-per-identity N  most connections signed in at once as one client
                        (default: ${DEFAULT_MAX_PER_IDENTITY})
  --min-rate RATE       bytes per second (64KiB, 1MB, or bytes) a connection must move
                        not to be closed for a newcomer when the server is full
                        (default: ${
  DEFAULT_FLOOR_RATE / 1024
}KiB, that is ${DEFAULT_FLOOR_RATE} bytes a second)
  --verdict-timeout S   seconds a client has to answer 1603 (900, 901 or 902) before its
                        upload is discarded and its connection closed
                        (default: ${DEFAULT_VERDICT_TIMEOUT_MS / 1000})
  --registrations-per-address N
                        most names registered from one address per minute
                        (default: ${DEFAULT_REGISTRATIONS_PER_MINUTE})
  --forget-unused-after H
                        hours after which a name whose client never signed in again
                        nor stored a file is freed (default: ${
  DEFAULT_FORGET_UNUSED_AFTER_MS / 3_600_000
})
  --dialects LIST       the protocol dialects served on the plain port, comma-separated:
                        reference, a-per-packet, b, c, d (default: all; docs/protocol.md §15)
  --log-level LEVEL     trace, debug, info, warning, error or fatal (default: info)
  --json                operator commands: print JSON instead of a table
  --delete-files        forget: also delete the client's files
  --registry URL        a shared PostgreSQL registry, postgres://user:password@host:port/db
                        (env FT_REGISTRY_URL; default: server.db, SQLite, in --dir)
  --store STORE         s3://BUCKET (with FT_S3_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID,
                        AWS_SECRET_ACCESS_KEY) or a folder (env FT_STORE; default:
                        received_files/ in --dir)
  -h, --help            show this help
  -V, --version         show the version

Exit codes: 0 success (the server after a clean shutdown), 1 an expected failure
(the port is in use, the database is locked, an unknown client, ...), 2 bad usage,
70 an internal error (a bug: the message comes with its stack).
`;
