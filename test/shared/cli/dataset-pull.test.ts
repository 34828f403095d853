import { readFileSync, existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runDatasetPull } from "../../../shared/cli/commands/data-action.ts";
import type { DataCliIo } from "../../../shared/cli/commands/data.ts";
import { runMetricsCocoCommand } from "../../../shared/cli/commands/metrics-action.ts";
import { readManifestFile } from "../../../shared/adapters/datasets/manifest-file.ts";
import type { LoadedManifestV3 } from "../../../shared/core/datasets/manifest.ts";
import { readStoredManifest } from "../../../shared/core/evaluation/samples.ts";
import { sha256Hex } from "../../../shared/core/json.ts";
import { checkThreshold } from "../../../shared/core/usecases/threshold.ts";
import { latestDatasetVersion } from "../../../shared/db/queries/datasets.ts";
import { seedSample } from "../../helpers/dataset-seed.ts";
import { createTestDeps, type TestDeps } from "../../helpers/deps.ts";

let t: TestDeps;
afterEach(async () => t?.close());

function io(): DataCliIo & { out: string; err: string } {
  const sink = { out: "", err: "", stderrIsTty: false, stdout: (s: string) => void (sink.out += s), stderr: (s: string) => void (sink.err += s) };
  return sink;
}

/** Accepted samples whose renderings exist in the store (the seed names hashes of these bytes), frozen into a version. */
async function frozenVersion(count: number): Promise<string> {
  t = await createTestDeps({ env: { EVAL_SPLIT_PERCENT: "30" } });
  for (let i = 0; i < count; i++) {
    const id = `it_${i}`;
    await seedSample(t.db, t.store, id, { nodata: i % 2 === 0 });
    for (const role of ["rgb", "nir"] as const) await t.store.put(`gs://annotation/items/p-${id}/p-${id}_${role}.png`, Buffer.from(`${id}:${role}`));
  }
  expect((await checkThreshold(null, t.deps, true)).status).toBe("done");
  return (await latestDatasetVersion(t.db, "default"))!.id;
}

describe("mlops dataset pull", () => {
  it("checks out a version with every object's SHA-256 verified, a COCO file metrics coco reads, YOLO and masks", async () => {
    const versionId = await frozenVersion(8);
    const out = mkdtempSync(join(tmpdir(), "pull-"));
    const sink = io();
    await runDatasetPull(t.deps.config, versionId, { out, format: "coco,yolo,masks", split: "all" }, sink);

    // The folder holds the version: manifest.json (its SHA-256 is the version id) and its pages.
    const manifestText = readFileSync(join(out, "manifest.json"), "utf8");
    expect(sha256Hex(manifestText)).toBe(versionId);
    const { manifest, versionId: readId } = await readManifestFile(join(out, "manifest.json"));
    expect([manifest.schema, readId]).toEqual(["dataset-manifest/v3", versionId]);
    expect(readdirSync(join(out, "manifest-pages"))).toHaveLength((manifest as LoadedManifestV3).pages.length);
    expect(manifest.items).toHaveLength(8);
    for (const item of manifest.items as LoadedManifestV3["items"]) {
      const file = (dir: string, ext: string) => readFileSync(join(out, dir, `${item.itemId}.${ext}`));
      expect(sha256Hex(file("images", "png"))).toBe(item.images.rgb!.sha256);
      expect(sha256Hex(file("nir", "png"))).toBe(item.images.nir!.sha256);
      expect(sha256Hex(file("canonical", "json"))).toBe(item.label.sha256);
      expect(sha256Hex(file("masks", "png"))).toBe(item.exports.mask!.sha256);
      expect(sha256Hex(file("labels", "txt"))).toBe(item.exports.yolo!.sha256);
      if (item.nodata) expect(sha256Hex(file("nodata", "png"))).toBe(item.nodata.sha256);
    }
    expect(readdirSync(join(out, "nodata"))).toHaveLength(4);
    expect(readFileSync(join(out, "data.yaml"), "utf8")).toContain("nc: 5");

    // Progress on stderr, the summary on stdout.
    const progress = sink.err.trim().split("\n");
    expect(progress.at(-1)).toMatch(new RegExp(`^pull ${versionId.slice(0, 12)}: (\\d+)/\\1 files verified`));
    expect(progress.length).toBeGreaterThan(2);
    expect(sink.out).toContain(`pulled dataset ${versionId}`);

    // The COCO file is what `mlops metrics coco --gt` reads: perfect detections score AP 1.
    const coco = JSON.parse(readFileSync(join(out, "annotations.json"), "utf8")) as {
      images: { id: number; file_name: string }[]; annotations: { image_id: number; category_id: number; bbox: number[] }[];
    };
    expect(coco.images).toHaveLength(8);
    for (const image of coco.images) expect(existsSync(join(out, image.file_name))).toBe(true);
    const detections = coco.annotations.map((a) => ({ image_id: a.image_id, category_id: a.category_id, bbox: a.bbox, score: 1 }));
    expect(detections.length).toBeGreaterThan(0);
    const dt = join(out, "detections.json");
    writeFileSync(dt, JSON.stringify(detections));
    let metricsOut = "";
    const code = await runMetricsCocoCommand({ gt: join(out, "annotations.json"), dt, json: true }, { stdout: (s) => void (metricsOut += s), stderr: (s) => void (metricsOut += s) });
    expect(code).toBe(0);
    expect((JSON.parse(metricsOut) as { AP: number }).AP).toBeCloseTo(1, 6);
  });

  it("pulls one split only", async () => {
    const versionId = await frozenVersion(6);
    const out = mkdtempSync(join(tmpdir(), "pull-"));
    const sink = io();
    await runDatasetPull(t.deps.config, versionId, { out, format: "coco", split: "eval", json: true }, sink);
    const summary = JSON.parse(sink.out) as { items: number; versionId: string };
    const { manifest } = await readManifestFile(join(out, "manifest.json"));
    const evalItems = manifest.items.filter((i) => i.split === "eval").map((i) => `${i.itemId}.png`).sort();
    expect(summary.items).toBe(evalItems.length);
    expect(readdirSync(join(out, "images")).sort()).toEqual(evalItems);
    expect(existsSync(join(out, "masks"))).toBe(false);
  });

  it("refuses an object whose bytes changed under the version, naming it, and a manifest that is not the version", async () => {
    const versionId = await frozenVersion(4);
    const { manifest } = await readStoredManifest(t.store, `gs://datasets/default/${versionId}/manifest.json`);
    const victim = (manifest as LoadedManifestV3).items[1]!.exports.mask!.uri;
    await t.store.put(victim, Buffer.from("not the mask"));
    await expect(runDatasetPull(t.deps.config, versionId, { out: mkdtempSync(join(tmpdir(), "pull-")), format: "masks", split: "all" }, io()))
      .rejects.toThrow(new RegExp(`${victim.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} has SHA-256`));
    const otherId = "0".repeat(64);
    await t.store.put(`gs://datasets/default/${otherId}/manifest.json`, await t.store.get(`gs://datasets/default/${versionId}/manifest.json`));
    await expect(runDatasetPull(t.deps.config, otherId, { out: mkdtempSync(join(tmpdir(), "pull-")), format: "coco", split: "all" }, io()))
      .rejects.toThrow(/not the version id/);
  });

  it("refuses unknown formats and splits before touching anything", async () => {
    t = await createTestDeps();
    await expect(runDatasetPull(t.deps.config, "latest", { out: "x", format: "coco,voc", split: "all" }, io())).rejects.toThrow(/--format takes coco, yolo, masks/);
    await expect(runDatasetPull(t.deps.config, "latest", { out: "x", format: "coco", split: "test" }, io())).rejects.toThrow(/--split/);
  });
});
