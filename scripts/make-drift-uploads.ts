/**
 * Uploads for checking input drift by hand (README, "Input drift"):
 *
 * - `noise`: saturated noise PNGs, every pixel of every channel 0 or 255 at random (nothing like
 *   the demo's scenes: no structure, extreme values, no NIR band);
 * - `demo`: product zips from the demo's own scene generator under seeds the demo never uses,
 *   which should not drift.
 *
 *   node --import tsx scripts/make-drift-uploads.ts noise 30 /tmp/noise
 *   node bin/mlops.js upload /tmp/noise/*
 *
 * Deterministic: the same kind, count and seed write the same bytes.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { makeDemoProduct } from "../shared/adapters/demo/products.ts";
import { sharpCodec } from "../shared/adapters/imaging/codec.ts";
import { mulberry32 } from "../shared/core/demo/prng.ts";

export type DriftUploadKind = "noise" | "demo";

export async function makeDriftUploads(kind: DriftUploadKind, count: number, options: { size?: number; seed?: number } = {}): Promise<{ name: string; bytes: Uint8Array }[]> {
  const size = options.size ?? 160;
  const seed = options.seed ?? 9_000;
  const uploads: { name: string; bytes: Uint8Array }[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${kind}-${String(seed + i).padStart(5, "0")}`;
    if (kind === "demo") {
      uploads.push({ name: `${name}.zip`, bytes: makeDemoProduct({ seed: 7_000_000 + seed + i, width: size, height: size, name }).zip });
      continue;
    }
    const rand = mulberry32(seed + i);
    const data = new Uint8Array(size * size * 3);
    for (let p = 0; p < data.length; p++) data[p] = rand() < 0.5 ? 0 : 255;
    uploads.push({ name: `${name}.png`, bytes: await sharpCodec.encodePng({ width: size, height: size, channels: 3, data }) });
  }
  return uploads;
}

async function main(argv: string[]): Promise<void> {
  const [kind, countText, out] = argv;
  if ((kind !== "noise" && kind !== "demo") || !out || !/^\d+$/.test(countText ?? "")) {
    process.stderr.write("usage: make-drift-uploads.ts noise|demo <count> <out dir>\n");
    process.exitCode = 2;
    return;
  }
  const dir = resolve(out);
  await mkdir(dir, { recursive: true });
  const uploads = await makeDriftUploads(kind, Number(countText));
  for (const u of uploads) await writeFile(join(dir, u.name), u.bytes);
  process.stdout.write(`wrote ${uploads.length} ${kind} uploads to ${dir}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
