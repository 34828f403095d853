/**
 * Safety benchmark: every imaging case of the hostile-upload corpus (test/fixtures/corpus), plus
 * uploads built here at the configured limits and a legitimate large product, each through the
 * real ingest path in a fresh child process (bench/safety-child.ts). Prints per case the outcome,
 * reason code, wall time and peak RSS, and the maximum against the 1 GiB target. The legitimate
 * 4096² product sizes the `ingest` function's memory (infra/functions.tf).
 *
 *   npm run bench -- safety          (DATABASE_URL set: Postgres in a scratch schema; else PGlite)
 *   SAFETY_ONLY=zip-bomb npm run bench -- safety      (only the cases whose id matches)
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { crc32, deflateRawSync } from "node:zlib";
import * as z from "zod";
import { createPgDb } from "../shared/adapters/db/pg.ts";
import { createPgliteDb } from "../shared/adapters/db/pglite.ts";
import { writeGeoTiff } from "../shared/adapters/imaging/geotiff-writer.ts";
import { makeProductZip } from "../shared/adapters/imaging/product-zip.ts";
import { loadConfig } from "../shared/config/load.ts";
import { generateScene } from "../shared/core/demo/scenes.ts";
import { migrate } from "../shared/db/migrate.ts";
import { loadMigrations } from "../shared/db/migrations.ts";
import { crcOfZeros, deflatedZeros, writeZip } from "../scripts/corpus/zip.ts";
import type { BenchResult, BenchSuite } from "./types.ts";

const execFileAsync = promisify(execFile);
const TARGET_MIB = 1024;
const MiB = 1024 * 1024;
const CHILD_TIMEOUT_MS = 300_000;
const root = fileURLToPath(new URL("..", import.meta.url));

interface Case {
  id: string;
  file: string;
  expect: { state: string; reason?: string };
  hostile: boolean;
}

const ChildReport = z.object({
  state: z.string(),
  reason: z.string().nullable(),
  error: z.string().nullable(),
  outcome: z.string(),
  wallMs: z.number(),
  peakRssBytes: z.number(),
  baselineRssBytes: z.number(),
  resetPeak: z.boolean(),
});
type ChildReport = z.infer<typeof ChildReport>;

/** A 4-band float32 scene of `size`², tiled from a 1024² demo scene (which compresses like reflectance). */
export function tiledBands(size: number, height = size): Float32Array[] {
  const tile = 1024;
  const scene = generateScene({ seed: 77, width: tile, height: tile });
  return [scene.bands.blue, scene.bands.green, scene.bands.red, scene.bands.nir].map((band) => {
    const out = new Float32Array(size * height);
    for (let y = 0; y < height; y++) {
      const row = band.subarray((y % tile) * tile, (y % tile) * tile + tile);
      for (let x = 0; x < size; x += tile) out.set(row.subarray(0, Math.min(tile, size - x)), y * size + x);
    }
    return out;
  });
}

/** Uploads built at the limits in force (they depend on the configuration, so they are not committed). */
async function generatedCases(dir: string, only: RegExp | null): Promise<Case[]> {
  const { limits } = loadConfig(process.env).normalise;
  const cases: Case[] = [];
  const wanted = (id: string) => !only || only.test(id);
  const add = async (id: string, make: () => Uint8Array, expect: Case["expect"], hostile: boolean) => {
    if (!wanted(id)) return;
    const file = join(dir, `${id}.zip`);
    await writeFile(file, make());
    cases.push({ id, file, expect, hostile });
  };

  // The legitimate large product: GDAL-style deflate strips in a level-6 zip, like real uploads.
  const size = 4096;
  await add("legit-product-4096x4096-float32", () => makeProductZip("LARGE_4096", writeGeoTiff({ width: size, height: size, bands: tiledBands(size), compression: "deflate" })), { state: "normalised" }, false);

  // A small valid product padded with zeros to just under MAX_INFLATED_BYTES, declared honestly:
  // the most a zip entry can make us hold.
  await add("limits-entry-inflates-to-the-cap", () => {
    const small = writeGeoTiff({ width: 256, height: 256, bands: tiledBands(256), compression: "deflate" });
    const zeroMiB = Math.floor((limits.maxInflatedBytes - small.length) / MiB / 16) * 16;
    return writeZip([{ name: "CAP/CAP.tif", data: deflatedZeros(small, zeroMiB), method: 8, size: small.length + zeroMiB * MiB, crc: crcOfZeros(small, zeroMiB) }]);
  }, { state: "normalised" }, true);

  // An uncompressed 4-band float32 TIFF sized so that its decode just fits MAX_DECODE_BYTES, in a
  // deflated entry: the inflated entry and the band arrays held at once, the most the decode holds.
  const perPixel = 4 * 4 + 4 * 4; // the inflated entry's samples + the band arrays
  const pixels = Math.min(Math.floor((limits.maxDecodeBytes - 8 * MiB) / perPixel), Math.floor((limits.maxInflatedBytes - MiB) / 16));
  const height = Math.floor(pixels / size);
  await add("limits-decode-at-the-budget", () => {
    const raw = writeGeoTiff({ width: size, height, bands: tiledBands(size, height), compression: "none" });
    return writeZip([{ name: "BUDGET/BUDGET.tif", data: deflateRawSync(raw, { level: 1 }), method: 8, size: raw.length, crc: crc32(raw) }]);
  }, { state: "normalised" }, true);
  return cases;
}

async function corpusCases(): Promise<Case[]> {
  const dir = join(root, "test/fixtures/corpus");
  const table = JSON.parse(await readFile(join(dir, "cases.json"), "utf8")) as { id: string; category: string; file: string; expect: Case["expect"] }[];
  return table.filter((c) => ["archive", "raster", "image"].includes(c.category)).map((c) => ({ id: c.id, file: join(dir, c.file), expect: c.expect, hostile: true }));
}

async function runChild(workspace: string, c: Case, env: NodeJS.ProcessEnv): Promise<ChildReport | { failure: string }> {
  const child = fileURLToPath(new URL("./safety-child.ts", import.meta.url));
  try {
    const { stdout } = await execFileAsync(process.execPath, ["--import", "tsx", child, workspace, c.file, `bench/${c.file.split("/").pop()}`], {
      cwd: root, env, timeout: CHILD_TIMEOUT_MS, maxBuffer: 1024 * 1024,
    });
    return ChildReport.parse(JSON.parse(stdout.trim().split("\n").pop() ?? "{}"));
  } catch (err) {
    const e = err as { killed?: boolean; signal?: string; stderr?: string; message: string };
    return { failure: e.killed ? `killed after ${CHILD_TIMEOUT_MS / 1000} s (${e.signal})` : (e.stderr?.trim().split("\n").pop() ?? e.message).slice(0, 200) };
  }
}

export const safetyBench: BenchSuite = async () => {
  const dir = await mkdtemp(join(tmpdir(), "mlops-bench-safety-"));
  const url = process.env.DATABASE_URL;
  const schema = `bench_safety_${randomBytes(4).toString("hex")}`;
  const env: NodeJS.ProcessEnv = { ...process.env, ...(url ? { BENCH_DB_SCHEMA: schema } : {}) };
  const admin = url ? createPgDb({ connectionString: url, max: 1 }) : null;
  try {
    // One migrated database: a schema on Postgres, or a PGlite data directory each child copies.
    if (admin) {
      await admin.exec(`CREATE SCHEMA ${schema}`);
      const db = createPgDb({ connectionString: url!, schema, max: 1 });
      await migrate(db, loadMigrations());
      await db.close();
    } else {
      await mkdir(join(dir, "template"), { recursive: true });
      const db = await createPgliteDb(join(dir, "template", "pgdata"));
      await migrate(db, loadMigrations());
      await db.close();
    }
    await mkdir(join(dir, "generated"), { recursive: true });
    process.stderr.write("  building the uploads at the limits and the 4096² product…\n");
    const only = process.env.SAFETY_ONLY ? new RegExp(process.env.SAFETY_ONLY) : null;
    const cases = [...(await corpusCases()), ...(await generatedCases(join(dir, "generated"), only))].filter((c) => !only || only.test(c.id));

    const results: BenchResult[] = [];
    let maxHostile = 0;
    let maxHostileId = "";
    for (const c of cases) {
      const workspace = join(dir, "ws", c.id);
      await mkdir(workspace, { recursive: true });
      if (!admin) await cp(join(dir, "template", "pgdata"), join(workspace, "pgdata"), { recursive: true });
      const report = await runChild(workspace, c, env);
      await rm(workspace, { recursive: true, force: true });
      if ("failure" in report) {
        results.push({ name: `safety: ${c.id}`, value: Number.NaN, unit: "MiB", target: `≤ ${TARGET_MIB} MiB`, pass: false, note: report.failure });
        continue;
      }
      const peakMiB = Math.round(report.peakRssBytes / MiB);
      const expected = report.state === c.expect.state && (c.expect.reason ?? null) === report.reason;
      if (c.hostile && peakMiB > maxHostile) {
        maxHostile = peakMiB;
        maxHostileId = c.id;
      }
      results.push({
        name: `safety: ${c.id}`,
        value: peakMiB,
        unit: "MiB",
        target: `≤ ${TARGET_MIB} MiB`,
        pass: peakMiB <= TARGET_MIB && expected,
        note: `${report.state}${report.reason ? ` ${report.reason}` : ""}${expected ? "" : ` (${report.error ?? report.outcome})`} in ${Math.round(report.wallMs)} ms; before ingest ${Math.round(report.baselineRssBytes / MiB)} MiB` +
          `${expected ? "" : ` (expected ${c.expect.state}${c.expect.reason ? ` ${c.expect.reason}` : ""})`}${report.resetPeak ? "" : " (peak includes start-up)"}`,
      });
    }
    results.push({
      name: "safety: max peak RSS over hostile and at-limit uploads",
      value: maxHostile,
      unit: "MiB",
      target: `≤ ${TARGET_MIB} MiB`,
      pass: maxHostile <= TARGET_MIB && results.every((r) => r.pass || r.name.includes("legit")),
      note: `${maxHostileId}; database ${url ? "Postgres" : "PGlite (in-process, so included)"}`,
    });
    return results;
  } finally {
    if (admin) {
      await admin.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined);
      await admin.close();
    }
    await rm(dir, { recursive: true, force: true });
  }
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const r of await safetyBench()) process.stdout.write(`${r.pass ? "PASS" : "MISS"}  ${r.name}: ${r.value} ${r.unit} — ${r.note ?? ""}\n`);
}
