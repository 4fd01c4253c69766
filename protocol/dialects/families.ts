/**
 * The four families of mmn15 dialects and their code tables
 * (`docs/protocol.md` §15). Every family shares the 23-byte request header,
 * the 7-byte response header, RSA-1024 with OAEP (SHA-1), AES-CBC with a zero
 * IV and the cksum; they differ in codes, AES key size and upload framing.
 *
 * | family | requests                | responses | AES key | upload                               |
 * |--------|-------------------------|-----------|---------|--------------------------------------|
 * | A      | 825 826 827 828 900-902 | 1600-1607 | 32 B    | reference (828 size 0 + raw packets) or one 828 per packet |
 * | B      | 1025-1031               | 2100-2107 | 16 B    | one 1028: content size + name + ciphertext |
 * | C      | 1100 1101 1103-1106     | 2100-2104, 2107 | 16 B | one 1103: id + content size + name + ciphertext |
 * | D      | 1025-1031               | 1600-1607 | 32 B    | one 1028 per packet                   |
 *
 * Requests by meaning:
 *
 * | meaning                      | A   | B, D | C    |
 * |------------------------------|-----|------|------|
 * | register (name[255])         | 825 | 1025 | 1100 |
 * | public key (name + key[160]) | 826 | 1026 | 1101 |
 * | reconnect (name[255])        | 827 | 1027 | none |
 * | send file                    | 828 | 1028 | 1103 |
 * | CRC ok                       | 900 | 1029 | 1104 |
 * | CRC bad, will resend         | 901 | 1030 | 1105 |
 * | CRC bad, abort               | 902 | 1031 | 1106 |
 *
 * Responses by meaning:
 *
 * | meaning            | A, D | B, C |
 * |--------------------|------|------|
 * | registered         | 1600 | 2100 |
 * | registration refused | 1601 | 2101 |
 * | key                | 1602 | 2102 |
 * | file received      | 1603 | 2103 |
 * | acknowledged       | 1604 | 2104 |
 * | reconnect approved | 1605 | 2105 (B) |
 * | reconnect refused  | 1606 | 2106 (B) |
 * | general error      | 1607 | 2107 |
 *
 * @module
 */

/** A family of dialects, as recorded with a registered client. */
export type Family = "A" | "B" | "C" | "D";

/** Every family, in order. */
export const FAMILIES: readonly Family[] = ["A", "B", "C", "D"];

/**
 * A dialect an operator can serve or not (`--dialects`): family A splits in
 * two at its first 828, the reference and one 828 per packet.
 */
export type Dialect = "reference" | "a-per-packet" | "b" | "c" | "d";

/** Every dialect, in order. */
export const DIALECTS: readonly Dialect[] = ["reference", "a-per-packet", "b", "c", "d"];

/** The family a dialect belongs to. */
export function familyOfDialect(dialect: Dialect): Family {
  switch (dialect) {
    case "reference":
    case "a-per-packet":
      return "A";
    case "b":
      return "B";
    case "c":
      return "C";
    case "d":
      return "D";
  }
}

/**
 * Parses a dialect name as an operator writes it (any case).
 *
 * @throws {TypeError} naming the dialects that exist.
 */
export function parseDialect(text: string): Dialect {
  const dialect = text.trim().toLowerCase();
  if ((DIALECTS as readonly string[]).includes(dialect)) return dialect as Dialect;
  throw new TypeError(
    `Cannot parse dialect: ${JSON.stringify(text)} is not one of ${DIALECTS.join(", ")}`,
  );
}

/** What a request means, whatever its family's code. */
export type RequestMeaning =
  | "register"
  | "publicKey"
  | "reconnect"
  | "sendFile"
  | "crcOk"
  | "crcRetry"
  | "crcAbort";

/** What a response means, whatever its family's code. */
export type ResponseMeaning =
  | "registered"
  | "registerFailed"
  | "keyAccepted"
  | "fileReceived"
  | "ack"
  | "reconnectApproved"
  | "reconnectDenied"
  | "generalError";

/** One family's codes and key size. */
export interface FamilyTable {
  /** The family. */
  readonly family: Family;
  /** Request code by meaning; family C has no reconnect. */
  readonly requests: Readonly<Record<RequestMeaning, number | undefined>>;
  /** Response code by meaning; family C has no reconnect answers. */
  readonly responses: Readonly<Record<ResponseMeaning, number | undefined>>;
  /** Size of the AES key the family's clients need, in bytes. */
  readonly aesKeySize: 16 | 32;
}

const A_RESPONSES = {
  registered: 1600,
  registerFailed: 1601,
  keyAccepted: 1602,
  fileReceived: 1603,
  ack: 1604,
  reconnectApproved: 1605,
  reconnectDenied: 1606,
  generalError: 1607,
} as const;

const B_RESPONSES = {
  registered: 2100,
  registerFailed: 2101,
  keyAccepted: 2102,
  fileReceived: 2103,
  ack: 2104,
  reconnectApproved: 2105,
  reconnectDenied: 2106,
  generalError: 2107,
} as const;

const BD_REQUESTS = {
  register: 1025,
  publicKey: 1026,
  reconnect: 1027,
  sendFile: 1028,
  crcOk: 1029,
  crcRetry: 1030,
  crcAbort: 1031,
} as const;

/** The code tables of the four families. */
export const FAMILY_TABLES: Readonly<Record<Family, FamilyTable>> = {
  A: {
    family: "A",
    requests: {
      register: 825,
      publicKey: 826,
      reconnect: 827,
      sendFile: 828,
      crcOk: 900,
      crcRetry: 901,
      crcAbort: 902,
    },
    responses: A_RESPONSES,
    aesKeySize: 32,
  },
  B: { family: "B", requests: BD_REQUESTS, responses: B_RESPONSES, aesKeySize: 16 },
  C: {
    family: "C",
    requests: {
      register: 1100,
      publicKey: 1101,
      reconnect: undefined,
      sendFile: 1103,
      crcOk: 1104,
      crcRetry: 1105,
      crcAbort: 1106,
    },
    responses: { ...B_RESPONSES, reconnectApproved: undefined, reconnectDenied: undefined },
    aesKeySize: 16,
  },
  D: { family: "D", requests: BD_REQUESTS, responses: A_RESPONSES, aesKeySize: 32 },
};

/** What request `code` means in `family`, or `undefined` if the family has no such code. */
export function requestMeaning(family: Family, code: number): RequestMeaning | undefined {
  const requests = FAMILY_TABLES[family].requests;
  for (const meaning of Object.keys(requests) as RequestMeaning[]) {
    if (requests[meaning] === code) return meaning;
  }
  return undefined;
}

/** What response `code` means in `family`, or `undefined` if the family has no such code. */
export function responseMeaning(family: Family, code: number): ResponseMeaning | undefined {
  const responses = FAMILY_TABLES[family].responses;
  for (const meaning of Object.keys(responses) as ResponseMeaning[]) {
    if (responses[meaning] === code) return meaning;
  }
  return undefined;
}
