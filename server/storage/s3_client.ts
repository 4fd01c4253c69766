/**
 * An S3 client configured for S3-compatible gateways (Ceph's radosgw, MinIO
 * and the like) with every setting given, so the SDK looks nothing up on its
 * own: no `~/.aws` files, no environment, no operating system details. The
 * server thus needs no permission beyond the network to reach its store.
 *
 * Settings an S3-compatible gateway needs:
 *
 * | setting                                         | without it                          |
 * | ----------------------------------------------- | ----------------------------------- |
 * | `forcePathStyle: true`                          | bucket names become host names      |
 * | `requestChecksumCalculation: "WHEN_REQUIRED"`   | streamed uploads fail on radosgw    |
 * | `responseChecksumValidation: "WHEN_REQUIRED"`   | streamed uploads fail on radosgw    |
 *
 * @example
 * ```ts
 * import { createS3Client } from "./s3_client.ts";
 * const client = createS3Client({
 *   endpoint: "http://127.0.0.1:7480",
 *   region: "us-east-1",
 *   accessKeyId: "key",
 *   secretAccessKey: "secret",
 * });
 * client.destroy();
 * ```
 *
 * @module
 */

import { S3Client } from "@aws-sdk/client-s3";

/** Where an S3-compatible store is and how to sign in to it. */
export interface S3Settings {
  /** The gateway's base URL, such as `http://127.0.0.1:7480`. */
  endpoint: string;
  /** The region to sign requests for (S3-compatible gateways accept any). */
  region: string;
  /** Access key. */
  accessKeyId: string;
  /** Secret key. */
  secretAccessKey: string;
}

/** A client for `settings`, with nothing left for the SDK to look up. */
export function createS3Client(settings: S3Settings): S3Client {
  return new S3Client({
    endpoint: settings.endpoint,
    region: settings.region,
    credentials: {
      accessKeyId: settings.accessKeyId,
      secretAccessKey: settings.secretAccessKey,
    },
    forcePathStyle: true,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    // Each of these would otherwise be read from the environment, ~/.aws or the OS.
    defaultUserAgentProvider: () => Promise.resolve([["file-transfer-server"]]),
    defaultsMode: "standard",
    maxAttempts: 3,
    retryMode: "standard",
    useArnRegion: false,
    useDualstackEndpoint: false,
    useFipsEndpoint: false,
    disableS3ExpressSessionAuth: true,
    authSchemePreference: [],
    sigv4aSigningRegionSet: [],
    userAgentAppId: "",
    // Read from AWS_DISABLE_CLOCK_SKEW_CORRECTION or ~/.aws/config on the first request
    // otherwise: a permission prompt before the server listens (issue 19).
    disableClockSkewCorrection: false,
    ignoreConfiguredEndpointUrls: true,
  });
}

/**
 * What went wrong with an S3 request, for people: the gateway's error code
 * and HTTP status (`InvalidBucketName, HTTP 400`), with the SDK's message when
 * it says more than `UnknownError` (which it does for any code it has no
 * class for, hiding the gateway's real reason).
 *
 * @example
 * ```ts
 * import { describeS3Error } from "./s3_client.ts";
 * const error = Object.assign(new Error("UnknownError"), {
 *   name: "InvalidBucketName",
 *   $metadata: { httpStatusCode: 400 },
 * });
 * console.assert(describeS3Error(error) === "InvalidBucketName, HTTP 400");
 * ```
 */
export function describeS3Error(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { Code, $metadata } = error as { Code?: unknown; $metadata?: { httpStatusCode?: number } };
  const code = typeof Code === "string" && Code !== "" ? Code : error.name;
  const status = $metadata?.httpStatusCode;
  const message = error.message === "" || error.message === "UnknownError" ||
      error.message === code
    ? ""
    : `: ${error.message}`;
  const named = code === "Error" || code === "" ? "" : code;
  const parts = [named, status === undefined ? "" : `HTTP ${status}`].filter((part) => part);
  return `${parts.join(", ")}${message}` || error.message || "an unknown error";
}
