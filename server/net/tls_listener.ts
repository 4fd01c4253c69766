/**
 * The secure port: a TLS listener with the server's identity
 * (`tls_identity.ts`), on the same addresses as the plain port, serving the
 * same sessions. The plain port learns from here what to answer to the
 * discovery request.
 *
 * | port                  | default            | speaks                                      |
 * |-----------------------|--------------------|---------------------------------------------|
 * | plain (`--port`)      | port.info, 1256    | protocol v3, plus the discovery answer      |
 * | secure (`--secure-port`) | plain port + 1  | TLS, inside it protocol v3 and the key proof |
 *
 * @module
 */

import { encodeDiscoveryResponse } from "../../protocol/discovery.ts";
import { errorMessage } from "../../common/error_message.ts";
import { ListenError, PortInUseError, StartupError } from "../errors.ts";
import { listen, type Listening, type TcpListener } from "./listen.ts";
import { SecureListener, TlsTerminator } from "./tls_terminator.ts";
import { loadOrCreateServerIdentity, type ServerIdentity } from "../identity/tls_identity.ts";

/** Default {@linkcode SecurePortOptions.handshakeTimeoutMs}. */
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5_000;
/** Default {@linkcode SecurePortOptions.maxConnections}. */
const DEFAULT_RELAYED_CONNECTIONS = 256;

/** A listening secure port. */
export interface SecurePort extends Listening {
  /** The identity it presents. */
  identity: ServerIdentity;
  /** Whether the identity was created by this start. */
  created: boolean;
  /** The whole discovery answer the plain port sends (1650 with this port and certificate). */
  discoveryAnswer: Uint8Array;
}

/** The secure port for a plain port: the next one, or any free port when the plain one is 0. */
export function defaultSecurePort(plainPort: number): number {
  return plainPort === 0 ? 0 : plainPort + 1;
}

/** What the secure port presents and advertises, when not the defaults. */
export interface SecurePortOptions {
  /**
   * The identity to present; default the one in `dir` (made on first start).
   * Instances behind one balancer share one (`server/identity/deployment_identity.ts`).
   */
  identity?: ServerIdentity | undefined;
  /**
   * The secure port the discovery answer names: the one clients reach, such
   * as a load balancer's (`--public-secure-port`); default the bound port.
   */
  advertisedPort?: number | undefined;
  /** How long a peer has to finish its TLS handshake; default 5 s (the header deadline). */
  handshakeTimeoutMs?: number;
  /** The server's `--max-connections`, which bounds the relayed connections; default 256. */
  maxConnections?: number;
}

/**
 * Loads (or creates) the identity in `dir`, unless given, and listens with
 * TLS on `host` (both IPv6 and IPv4 when undefined) and `port`: a TCP
 * listener whose connections get TLS from a {@linkcode TlsTerminator}, each
 * handshake bounded by `options.handshakeTimeoutMs`.
 *
 * @throws {ServerIdentityError} when the identity is unusable.
 * @throws {StartupError} (from `./errors.ts`) when the port cannot be
 * listened on; the message names the options to change it.
 */
export async function listenSecure(
  dir: string,
  host: string | undefined,
  port: number,
  options: SecurePortOptions = {},
): Promise<SecurePort> {
  const { identity, created } = options.identity !== undefined
    ? { identity: options.identity, created: false }
    : await loadOrCreateServerIdentity(dir);
  let listening: Listening<TcpListener>;
  try {
    listening = listen(host, port);
  } catch (error) {
    if (!(error instanceof PortInUseError || error instanceof ListenError)) throw error;
    throw new StartupError(
      `Cannot listen for the secure mode on ${error.address}: ${error.reason}; ` +
        "choose its port with --secure-port PORT, or turn the secure mode off with --no-secure",
      { cause: error },
    );
  }
  let terminator: TlsTerminator;
  try {
    terminator = new TlsTerminator(
      { cert: identity.certificatePem, key: identity.privateKeyPem },
      options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      options.maxConnections ?? DEFAULT_RELAYED_CONNECTIONS,
    );
  } catch (error) {
    listening.listener.close();
    throw new StartupError(
      `Cannot listen for the secure mode on 127.0.0.1 (its inner TLS port): ${errorMessage(error)}`,
      { cause: error },
    );
  }
  return {
    ...listening,
    listener: new SecureListener(listening.listener, terminator),
    identity,
    created,
    discoveryAnswer: encodeDiscoveryResponse({
      securePort: options.advertisedPort ?? listening.listener.port,
      certificate: identity.certificate,
    }),
  };
}
