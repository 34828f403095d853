import type { Hash } from "node:crypto";

/**
 * A pipeline stage that passes chunks through unchanged while feeding them to `hash`: how both
 * object stores name a content-addressed object by its SHA-256 in the same pass that writes it.
 */
export function hashingStage(hash: Hash): (chunks: AsyncIterable<Uint8Array>) => AsyncGenerator<Uint8Array> {
  return async function* (chunks) {
    for await (const chunk of chunks) {
      hash.update(chunk);
      yield chunk;
    }
  };
}
