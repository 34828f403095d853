import { createHash } from "node:crypto";
import { PermanentError } from "../errors.ts";
import type { ByteSource, ObjectStore } from "../ports.ts";

/** Chunks big enough that hashing a large upload takes few requests, small enough to hold. */
const HASH_CHUNK_BYTES = 8 * 1024 * 1024;

/** An object in the store as a ByteSource: the normaliser reads it by ranges, never whole. */
export function objectSource(store: ObjectStore, uri: string, size: number): ByteSource {
  return { size, read: (offset, length) => store.readRange(uri, offset, length) };
}

/** SHA-256 of a source read in chunks: memory stays at one chunk whatever the upload's size. */
export async function sha256OfSource(source: ByteSource, chunkBytes = HASH_CHUNK_BYTES): Promise<string> {
  const hash = createHash("sha256");
  for (let at = 0; at < source.size; ) {
    const chunk = await source.read(at, Math.min(chunkBytes, source.size - at));
    // An object that shrank under us: hashing what is there would name the wrong content.
    if (chunk.length === 0) throw new PermanentError("object_changed", `the object ended at byte ${at} of ${source.size} while being read: it changed during ingest`);
    hash.update(chunk);
    at += chunk.length;
  }
  return hash.digest("hex");
}
