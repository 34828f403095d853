/**
 * Writes the imaging part of the hostile-upload corpus to test/fixtures/corpus/ (the files and
 * cases.json, which describes each case and what ingest must do with it). Deterministic: running
 * it again rewrites the same bytes. The committed output is what tests and `npm run bench --
 * safety` use; rerun this after changing a case.
 *
 *   node --import tsx scripts/make-corpus.ts
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CASES } from "./corpus/cases.ts";

const root = fileURLToPath(new URL("../test/fixtures/corpus/", import.meta.url));
const IMAGING = new Set(["archive", "raster", "image"]);

let total = 0;
for (const c of CASES) {
  const bytes = await c.make();
  const path = join(root, c.file);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
  total += bytes.length;
  process.stdout.write(`${c.id.padEnd(32)} ${String(bytes.length).padStart(9)} B  ${c.expect.state}${c.expect.reason ? ` ${c.expect.reason}` : ""}\n`);
}

// cases.json is shared with other categories (labels, messages, commands, config): keep theirs.
const tablePath = join(root, "cases.json");
const existing = await readFile(tablePath, "utf8").then((text) => JSON.parse(text) as { category: string }[], () => []);
const others = existing.filter((c) => !IMAGING.has(c.category));
const ours = CASES.map(({ id, category, file, expect, why }) => ({ id, category, file, expect, why }));
await writeFile(tablePath, `${JSON.stringify([...ours, ...others], null, 2)}\n`);
process.stdout.write(`${CASES.length} imaging cases, ${(total / 1024 / 1024).toFixed(2)} MiB in all\n`);
