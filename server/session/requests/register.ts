/**
 * 825, register: a name is offered an id when it is free. Nothing is
 * recorded yet; the client is recorded when its key arrives (826,
 * `public_key.ts`).
 *
 * | state on arrival     | answer                                     | state after   |
 * |----------------------|--------------------------------------------|---------------|
 * | unsigned, name free  | 1600 with a new id                         | registering   |
 * | unsigned, the address registered too many names this minute | 1601 | unsigned |
 * | unsigned, name taken | 1601                                       | unsigned      |
 * | registering, signed in | 1607                                     | unchanged     |
 *
 * @module
 */

import { clientIdToHex, RequestCode, ResponseCode } from "../../../protocol/mod.ts";
import { issueClientId } from "../../../protocol/dialects/mod.ts";
import { defineRequest, type RequestEntry } from "../request_table.ts";
import type { RequestScope } from "../scope.ts";
import { shortText } from "../short_text.ts";
import { referenceCodec } from "./reference_codec.ts";

/** The table row of 825. */
export const registerRequest: RequestEntry = defineRequest({
  ...referenceCodec(RequestCode.Register),
  name: "register",
  handle: (scope, request) => register(scope, request.name),
});

async function register(scope: RequestScope, name: string): Promise<void> {
  const { client } = scope;
  if (client.kind !== "unsigned") {
    await scope.reject(
      RequestCode.Register,
      client.kind === "signed-in"
        ? "a client is already signed in on this connection"
        : `this connection is registering ${client.name}: send its key (826)`,
    );
    return;
  }
  if (await scope.context.commit.registry.clientByName(name) !== undefined) {
    await answerNameTaken(scope, name);
    return;
  }
  if (!(await takeRegistration(scope, name))) return;
  // Some clients compare ids as C strings: none is issued with a 0x00 byte.
  const clientId = issueClientId();
  scope.setClient({ kind: "registering", clientId, name });
  scope.logger.info("Name {name} is free: offered id {clientId}, waiting for its key (826)", {
    name,
    clientId: clientIdToHex(clientId),
  });
  await scope.send({ code: ResponseCode.Registered, clientId });
}

/**
 * Counts a registration of `name` against the address's cap (an id offered
 * or reserved for a name); over the cap, logs the refusal and returns `false`.
 */
export function countRegistration(scope: RequestScope, name: string): boolean {
  if (scope.takeRegistration?.() !== false) return true;
  scope.logger.warn("Registration of {name} refused: {perMinute} from this address this minute", {
    name,
    perMinute: scope.context.registrations?.perMinute,
  });
  return false;
}

/**
 * {@linkcode countRegistration}, answering 1601 over the cap (each
 * dialect's "registration refused": the reference's with its text, the
 * other families' empty) and returning `false`. Every dialect's register
 * request calls it, after its own checks, before offering an id.
 */
export async function takeRegistration(scope: RequestScope, name: string): Promise<boolean> {
  if (countRegistration(scope, name)) return true;
  const perMinute = scope.context.registrations?.perMinute;
  await scope.send({
    code: ResponseCode.RegisterFailed,
    text: shortText(
      `Registration failed: ${perMinute} names were registered from your address in the ` +
        "last minute; try again later.",
    ),
  });
  return false;
}

/** 1601: the name is taken (at 825, or by another connection before this one's 826). */
export async function answerNameTaken(scope: RequestScope, name: string): Promise<void> {
  scope.logger.warn("Registration of {name} refused: the name is taken", { name });
  await scope.send({
    code: ResponseCode.RegisterFailed,
    text: shortText(`Registration failed: the name '${name}' is taken.`),
  });
}
