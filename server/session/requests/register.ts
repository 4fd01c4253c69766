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
  if (scope.takeRegistration?.() === false) {
    const perMinute = scope.context.registrations?.perMinute;
    scope.logger.warn("Registration of {name} refused: {perMinute} from this address this minute", {
      name,
      perMinute,
    });
    await scope.send({
      code: ResponseCode.RegisterFailed,
      text: shortText(
        `Registration failed: ${perMinute} names were registered from your address in the ` +
          "last minute; try again later.",
      ),
    });
    return;
  }
  // Some clients compare ids as C strings: none is issued with a 0x00 byte.
  const clientId = issueClientId();
  scope.setClient({ kind: "registering", clientId, name });
  scope.logger.info("Name {name} is free: offered id {clientId}, waiting for its key (826)", {
    name,
    clientId: clientIdToHex(clientId),
  });
  await scope.send({ code: ResponseCode.Registered, clientId });
}

/** 1601: the name is taken (at 825, or by another connection before this one's 826). */
export async function answerNameTaken(scope: RequestScope, name: string): Promise<void> {
  scope.logger.warn("Registration of {name} refused: the name is taken", { name });
  await scope.send({
    code: ResponseCode.RegisterFailed,
    text: shortText(`Registration failed: the name '${name}' is taken.`),
  });
}
