/**
 * RSA-1024 as the protocol uses it: the client's key pair, the 160-byte
 * SubjectPublicKeyInfo on the wire, and RSA-OAEP (SHA-1, MGF1-SHA-1, empty
 * label) to wrap the 32-byte AES key.
 *
 * A 160-byte public key needs a small public exponent. WebCrypto in Deno only
 * generates keys with exponent 3 or 65537, and 65537 gives 162 bytes, so key
 * generation uses `node:crypto` with exponent 17, as the reference client
 * does; everything else is WebCrypto.
 *
 * @module
 */

import { generateKeyPair as nodeGenerateKeyPair } from "node:crypto";
import { AES_KEY_SIZE, PUBLIC_KEY_SIZE, WRAPPED_KEY_SIZE } from "./constants.ts";

const OAEP = { name: "RSA-OAEP", hash: "SHA-1" } as const;
const PUBLIC_EXPONENT = 17;
const MODULUS_BITS = 1024;

/** An RSA-1024 key pair in the forms the protocol needs. */
export interface RsaKeyPair {
  /** SubjectPublicKeyInfo DER, exactly 160 bytes. */
  publicKey: Uint8Array;
  /** PKCS#8 PrivateKeyInfo DER, as stored (Base64) in `priv.key`. */
  privateKeyDer: Uint8Array;
  /** The private key, ready to unwrap AES keys. */
  privateKey: CryptoKey;
}

/** Generates a new RSA-1024 key pair with public exponent 17. */
export async function generateRsaKeyPair(): Promise<RsaKeyPair> {
  const { publicKey, privateKey } = await new Promise<
    { publicKey: Uint8Array; privateKey: Uint8Array }
  >(
    (resolve, reject) =>
      nodeGenerateKeyPair("rsa", {
        modulusLength: MODULUS_BITS,
        publicExponent: PUBLIC_EXPONENT,
        publicKeyEncoding: { type: "spki", format: "der" },
        privateKeyEncoding: { type: "pkcs8", format: "der" },
      }, (error, publicKey, privateKey) => {
        if (error) reject(error);
        else {resolve({
            publicKey: new Uint8Array(publicKey),
            privateKey: new Uint8Array(privateKey),
          });}
      }),
  );
  if (publicKey.length !== PUBLIC_KEY_SIZE) {
    throw new RangeError(`Cannot generate key pair: public key has ${publicKey.length} bytes`);
  }
  return { publicKey, privateKeyDer: privateKey, privateKey: await importPrivateKey(privateKey) };
}

/**
 * Imports a PKCS#8 DER private key for unwrapping.
 *
 * @throws {TypeError} if the bytes are not an RSA-1024 PKCS#8 private key.
 */
export async function importPrivateKey(der: Uint8Array): Promise<CryptoKey> {
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey("pkcs8", der as Uint8Array<ArrayBuffer>, OAEP, true, [
      "decrypt",
    ]);
  } catch (error) {
    throw new TypeError("Cannot import private key: not an RSA PKCS#8 key", { cause: error });
  }
  const bits = (key.algorithm as RsaHashedKeyAlgorithm).modulusLength;
  if (bits !== MODULUS_BITS) {
    throw new TypeError(
      `Cannot import private key: ${bits}-bit modulus instead of ${MODULUS_BITS}`,
    );
  }
  return key;
}

/**
 * Imports the 160-byte SubjectPublicKeyInfo a client sent.
 *
 * @throws {TypeError} if the bytes are not an RSA-1024 public key of 160 bytes.
 */
export async function importPublicKey(spki: Uint8Array): Promise<CryptoKey> {
  if (spki.length !== PUBLIC_KEY_SIZE) {
    throw new TypeError(
      `Cannot import public key: ${spki.length} bytes instead of ${PUBLIC_KEY_SIZE}`,
    );
  }
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey("spki", spki as Uint8Array<ArrayBuffer>, OAEP, false, [
      "encrypt",
    ]);
  } catch (error) {
    throw new TypeError("Cannot import public key: not an RSA SubjectPublicKeyInfo", {
      cause: error,
    });
  }
  const bits = (key.algorithm as RsaHashedKeyAlgorithm).modulusLength;
  if (bits !== MODULUS_BITS) {
    throw new TypeError(`Cannot import public key: ${bits}-bit modulus instead of ${MODULUS_BITS}`);
  }
  return key;
}

/** Wraps a 32-byte AES key with RSA-OAEP (SHA-1): 128 bytes. */
export async function wrapAesKey(publicKey: CryptoKey, aesKey: Uint8Array): Promise<Uint8Array> {
  if (aesKey.length !== AES_KEY_SIZE) {
    throw new RangeError(`Cannot wrap AES key: ${aesKey.length} bytes instead of ${AES_KEY_SIZE}`);
  }
  return new Uint8Array(
    await crypto.subtle.encrypt(OAEP, publicKey, aesKey as Uint8Array<ArrayBuffer>),
  );
}

/**
 * Unwraps a 128-byte RSA-OAEP ciphertext into the AES key: 32 bytes in the
 * reference dialect; the other dialects (`dialects/keys.ts`) pass their own
 * key size.
 *
 * @param privateKey An RSA-OAEP private key.
 * @param wrapped The 128-byte ciphertext.
 * @param size The AES key size the ciphertext must hold.
 * @throws {RangeError} if the ciphertext is not 128 bytes, does not decrypt,
 * or does not hold `size` bytes.
 */
export async function unwrapAesKey(
  privateKey: CryptoKey,
  wrapped: Uint8Array,
  size: number = AES_KEY_SIZE,
): Promise<Uint8Array> {
  if (wrapped.length !== WRAPPED_KEY_SIZE) {
    throw new RangeError(
      `Cannot unwrap AES key: ${wrapped.length} bytes instead of ${WRAPPED_KEY_SIZE}`,
    );
  }
  let key: Uint8Array;
  try {
    key = new Uint8Array(
      await crypto.subtle.decrypt(OAEP, privateKey, wrapped as Uint8Array<ArrayBuffer>),
    );
  } catch (error) {
    throw new RangeError("Cannot unwrap AES key: it was not wrapped with our public key", {
      cause: error,
    });
  }
  if (key.length !== size) {
    throw new RangeError(`Cannot unwrap AES key: ${key.length} bytes instead of ${size}`);
  }
  return key;
}
