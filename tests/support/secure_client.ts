/**
 * A raw client on a test server's secure port, signed in as our client does:
 * registered (or reconnected) over TLS, then the key proof (851) answered by
 * 1604. For the tests of what only a proven secure connection may ask.
 *
 * @module
 */

import assert from "node:assert/strict";
import { computeKeyProof, encodeKeyProofRequest } from "../../protocol/key_proof.ts";
import {
  maxRetrievalPayloadSize,
  RequestCode,
  ResponseCode,
  type RsaKeyPair,
} from "../../protocol/mod.ts";
import { readServerIdentity } from "../../server/identity/tls_identity.ts";
import { RawClient, signUp, type TestIdentity } from "../../harness/raw_client.ts";
import type { TestServer } from "./test_server.ts";

/** A secure client, registered and proven, with its connection. */
export interface Signed {
  /** Its connection. */
  client: RawClient;
  /** Who it is. */
  identity: TestIdentity;
}

/** The certificate a test server made in its folder. */
export async function certificateOf(dir: string): Promise<Uint8Array> {
  const identity = await readServerIdentity(dir);
  assert.ok(identity !== undefined, "the server made no identity");
  return identity.certificate;
}

/** A raw client connected to the test server's secure port, trusting its certificate. */
export async function secureClient(test: TestServer): Promise<RawClient> {
  return await RawClient.connectSecure(test.server.securePort!, await certificateOf(test.dir));
}

/** Sends the key proof for `aesKey` (851) and expects 1604, as our client does. */
export async function proveKey(
  client: RawClient,
  clientId: Uint8Array,
  aesKey: Uint8Array,
  fingerprint: Uint8Array,
): Promise<void> {
  await client.send(encodeKeyProofRequest(clientId, await computeKeyProof(aesKey, fingerprint)));
  await client.expect(ResponseCode.Ack);
}

/**
 * Registers `name` on `client`'s secure connection and proves the key, as
 * our client does (with `keys`, made before connecting, if given).
 */
export async function signUpProven(
  client: RawClient,
  name: string,
  fingerprint: Uint8Array,
  keys?: RsaKeyPair,
): Promise<TestIdentity> {
  const identity = await signUp(client, name, keys);
  await proveKey(client, identity.clientId, identity.aesKey, fingerprint);
  return identity;
}

/** A new secure connection to the test server, registered as `name` and proven. */
export async function signUpSecurely(test: TestServer, name: string): Promise<Signed> {
  const client = await secureClient(test);
  return { client, identity: await signUpProven(client, name, test.server.fingerprint!) };
}

/** Another proven connection of the same identity (a reconnect, 827). */
export async function signInAgain(test: TestServer, signed: Signed): Promise<RawClient> {
  const client = await secureClient(test);
  const { clientId, name, keys } = signed.identity;
  const aesKey = await client.reconnect(clientId, name, keys.privateKey);
  await proveKey(client, clientId, aesKey, test.server.fingerprint!);
  return client;
}

/** Uploads `data` as `name` on the signed-in connection and confirms it (1603, then 900). */
export async function storeFile(signed: Signed, name: string, data: Uint8Array): Promise<void> {
  const { client, identity } = signed;
  await client.upload(identity.clientId, null, name, data);
  await client.request(identity.clientId, { code: RequestCode.CrcOk, fileName: name });
  await client.expect(ResponseCode.Ack);
}

/** The next frame of a retrieval answer (860/861: up to a retrieval payload); fails if the server closed instead. */
export async function retrievalFrame(
  client: RawClient,
): Promise<{ code: number; payload: Uint8Array }> {
  const got = await client.readFrame(maxRetrievalPayloadSize);
  assert.ok(got !== null, "the server closed the connection instead of answering");
  return got;
}
