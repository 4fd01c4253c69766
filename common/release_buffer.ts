/**
 * Freeing a large buffer the moment it is no longer needed.
 *
 * Every WebCrypto call returns a fresh `ArrayBuffer`. At hundreds of MB/s the
 * dead megabytes pile up as "external" memory faster than V8 collects them,
 * which shows as tens of megabytes of extra resident memory. Detaching a
 * buffer gives its memory back at once.
 *
 * @module
 */

/**
 * Frees the memory behind `bytes` now instead of at the next collection, by
 * detaching its buffer. `bytes` (and every view of the same buffer) is
 * unusable afterwards; a buffer that is shared or already detached is left
 * alone.
 */
export function releaseBuffer(bytes: Uint8Array): void {
  const buffer = bytes.buffer;
  if (buffer instanceof ArrayBuffer && !buffer.detached) buffer.transfer(0);
}
