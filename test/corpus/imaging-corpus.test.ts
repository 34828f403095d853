/**
 * The imaging part of the hostile-upload corpus (test/fixtures/corpus/cases.json, written by
 * scripts/make-corpus.ts), each case through the real ingest path: the file uploaded to a folder
 * object store, one `object.finalized` delivery through handleDelivery, the real normaliser, a
 * real database. A refused upload must end `failed` with its reason code, acknowledged on its
 * first delivery (no redelivery loop), and nothing may be written outside the item's own folder.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handleDelivery } from "../../shared/core/delivery.ts";
import { itemIdFor } from "../../shared/core/usecases/ingest.ts";
import { getItem } from "../../shared/db/queries/items.ts";
import type { NormalisedOutput } from "../../shared/ports.ts";
import { testDbKind } from "../helpers/db.ts";
import { createTestDeps, type TestDeps } from "../helpers/deps.ts";
import { envelope } from "../helpers/fixtures.ts";

interface Case {
  id: string;
  category: string;
  file: string;
  expect: { state: "failed" | "normalised"; reason?: string; warning?: string };
  why: string;
}

const corpus = join(import.meta.dirname, "../fixtures/corpus");
const cases = (JSON.parse(readFileSync(join(corpus, "cases.json"), "utf8")) as Case[]).filter((c) => ["archive", "raster", "image"].includes(c.category));

function filesUnder(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((n) => (statSync(join(dir, n)).isDirectory() ? filesUnder(join(dir, n)) : [join(dir, n)]));
}

describe(`imaging corpus through ingest (${testDbKind})`, () => {
  let t: TestDeps;
  /** What the normaliser returned, by the file name ingest passed it. */
  const outputs = new Map<string, NormalisedOutput>();

  beforeAll(async () => {
    t = await createTestDeps();
    const real = await t.deps.normaliser();
    t.deps.normaliser = async () => ({
      async normalise(input, fileName, options) {
        const out = await real.normalise(input, fileName, options);
        outputs.set(fileName, out);
        return out;
      },
    });
  });
  afterAll(async () => t?.close());

  it("covers at least 25 archive, raster and image cases, each file present", () => {
    expect(cases.length).toBeGreaterThanOrEqual(25);
    for (const category of ["archive", "raster", "image"]) expect(cases.some((c) => c.category === category)).toBe(true);
    for (const c of cases) expect(statSync(join(corpus, c.file)).isFile(), c.file).toBe(true);
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
  });

  it.each(cases.map((c) => [c.id, c] as const))("%s", async (_id, c) => {
    const name = `corpus/${c.file}`;
    const info = await t.store.put(`gs://archive/${name}`, readFileSync(join(corpus, c.file)));
    const message = envelope("object.finalized", { bucket: "archive", name, generation: info.generation, size: String(info.size) });

    // One delivery, acknowledged (it returns rather than throwing for redelivery).
    const outcome = await handleDelivery("ingest", message, t.deps);
    expect(outcome.status).toBe("done");

    const item = await getItem(t.db, itemIdFor("archive", name, info.generation));
    expect(item?.state, `${c.id}: ${item?.error ?? ""}`).toBe(c.expect.state);
    if (c.expect.state === "failed") {
      expect(item?.error).toMatch(new RegExp(`^${c.expect.reason}: .{10,}`));
      expect(item?.error_stage).toBe("ingest");
      expect(item?.attempts).toBe(1);
      expect(outputs.has(name.split("/").pop()!)).toBe(false);
    } else {
      expect(item?.attempts).toBe(0);
      expect(item?.content_sha256).toMatch(/^[0-9a-f]{64}$/);
      const warnings = outputs.get(name.split("/").pop()!)?.warnings ?? [];
      if (c.expect.warning) expect(warnings).toEqual([expect.stringMatching(new RegExp(`^${c.expect.warning}: `))]);
      else expect(warnings).toEqual([]);
      for (const asset of Object.values(item!.assets)) expect(await t.store.head(asset!.uri)).not.toBeNull();
    }
  });

  it("wrote nothing outside the items' own folders", () => {
    const buckets = join(t.workspace, "buckets");
    const written = filesUnder(buckets).map((f) => relative(buckets, f).split(sep).join("/"));
    const uploads = new Set(cases.map((c) => `archive/corpus/${c.file}`));
    const outside = written.filter((f) => !uploads.has(f) && !/^annotation\/(items\/[^/]+\/[^/]+\.png|masks\/nodata\/it_[0-9a-f]+\.png)$/.test(f));
    expect(outside).toEqual([]);
    expect(written.filter((f) => f.startsWith("annotation/")).length).toBeGreaterThan(0);
  });
});
