import { objectUri, parseObjectUri } from "../../../shared/core/uri.ts";

/**
 * The objects a batch prediction predicts, from a listing: folder placeholders (names ending in
 * `/`) and anything under the run's own output prefix are left out; sorted by URI so every
 * execution sees the same order and names its masks the same way.
 */
export function relativeInputs(uris: readonly string[], sourcePrefix: string, outputPrefix: string): { uri: string; relative: string }[] {
  const source = parseObjectUri(sourcePrefix);
  // The part of the prefix that is a folder: `uploads/scene` lists `uploads/scene_1.zip`, named `scene_1.zip`.
  const folder = source.name.slice(0, source.name.lastIndexOf("/") + 1);
  const inputs: { uri: string; relative: string }[] = [];
  for (const uri of uris) {
    const { bucket, name } = parseObjectUri(uri);
    if (name.endsWith("/") || uri.startsWith(outputPrefix)) continue;
    inputs.push({ uri: objectUri(bucket, name), relative: name.startsWith(folder) ? name.slice(folder.length) : name });
  }
  return inputs.sort((a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
}

/**
 * One mask name per input, in the same order: the input's path below the prefix with its extension
 * replaced by `.png` (`2024/scene_1.zip` → `2024/scene_1.png`); when two inputs would share a
 * name (`scene_1.zip` and `scene_1.tif`), each of them keeps its extension (`scene_1.zip.png`), so
 * no mask overwrites another's.
 */
export function maskNames(relatives: readonly string[]): string[] {
  const stemOf = (r: string) => {
    const slash = r.lastIndexOf("/");
    const dot = r.lastIndexOf(".");
    return dot > slash + 1 ? r.slice(0, dot) : r;
  };
  const uses = new Map<string, number>();
  for (const r of relatives) uses.set(stemOf(r), (uses.get(stemOf(r)) ?? 0) + 1);
  return relatives.map((r) => (uses.get(stemOf(r)) === 1 ? `${stemOf(r)}.png` : `${r}.png`));
}
