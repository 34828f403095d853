import { mkdir, readFile, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import * as z from "zod";
import { ConfigError, loadConfig } from "../../config/load.ts";
import { PermanentError } from "../../errors.ts";
import type { NormaliseOptions, NormalisedOutput } from "../../ports.ts";
import type { NormaliseCliIo } from "./normalise.ts";

class UsageError extends Error {}

const FlagsSchema = z.object({
  out: z.string().min(1),
  rgb: z
    .string()
    .regex(/^\s*\d+\s*,\s*\d+\s*,\s*\d+\s*$/, "three band numbers such as 3,2,1")
    .transform((s) => s.split(",").map(Number) as [number, number, number])
    .refine((bands) => bands.every((b) => b >= 1), "bands are numbered from 1")
    .optional(),
  nir: z
    .string()
    .regex(/^\s*(none|\d+)\s*$/i, 'a band number such as 4, or "none"')
    .transform((s) => (s.trim().toLowerCase() === "none" ? null : Number(s)))
    .refine((band) => band === null || band >= 1, "bands are numbered from 1")
    .optional(),
  stretch: z
    .string()
    .regex(/^\s*(none|[\d.]+\s*,\s*[\d.]+)\s*$/i, 'two percentiles such as "2,98", or "none"')
    .transform((s) => (s.trim().toLowerCase() === "none" ? null : (s.split(",").map(Number) as [number, number])))
    .refine((p) => p === null || (p[0] >= 0 && p[1] <= 100 && p[0] < p[1]), "percentiles with 0 ≤ low < high ≤ 100")
    .optional(),
  nodata: z
    .string()
    .refine((s) => s.trim().toLowerCase() === "nan" || (s.trim() !== "" && Number.isFinite(Number(s))), "a number (or nan)")
    .transform((s) => (s.trim().toLowerCase() === "nan" ? NaN : Number(s)))
    .optional(),
  json: z.boolean().optional(),
});
type Flags = z.infer<typeof FlagsSchema>;

/** The work of `mlops normalise` (declared in normalise.ts): flags validated, files written. */
export async function normaliseAction(file: string, raw: Record<string, unknown>, io: NormaliseCliIo): Promise<void> {
  try {
    await runNormalise(file, parseFlags(raw), io);
  } catch (err) {
    if (err instanceof PermanentError) io.stderr(`mlops normalise: ${err.code}: ${err.message}\n`);
    else if (err instanceof UsageError || err instanceof ConfigError) io.stderr(`mlops normalise: ${err.message}\n`);
    else throw err;
    io.setExitCode(2);
  }
}

function parseFlags(raw: Record<string, unknown>): Flags {
  const parsed = FlagsSchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new UsageError(`invalid --${String(issue?.path[0] ?? "option")}: ${issue?.message}`);
}

async function runNormalise(file: string, flags: Flags, io: NormaliseCliIo): Promise<void> {
  const defaults = loadConfig(io.env).normalise;
  const options: NormaliseOptions = {
    rgbBands: flags.rgb ?? defaults.rgbBands,
    nirBand: flags.nir === undefined ? defaults.nirBand : flags.nir,
    stretchPercentiles: flags.stretch === undefined ? defaults.stretchPercentiles : flags.stretch,
    nodataValue: flags.nodata ?? defaults.nodataValue,
  };
  // Loaded here so `mlops --help` and the other commands never load the normaliser; compiled
  // while the file is read on the thread pool.
  const normaliserModule = import("../../adapters/imaging/normaliser.ts");
  const input = await readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${file}: ${err.code === "ENOENT" ? "no such file" : err.message}`);
  });

  const started = performance.now();
  const { createNormaliser } = await normaliserModule;
  // The same limits and single-value policy as ingest, so the preview fails where ingest would.
  const policy = { limits: defaults.limits, singleValueImages: defaults.singleValueImages };
  const output = await createNormaliser().normalise(input, basename(file), { ...options, ...policy });
  const seconds = (performance.now() - started) / 1000;

  await mkdir(flags.out, { recursive: true });
  const files = outputFiles(output, flags.out);
  for (const f of files) await writeFile(f.path, f.png);

  const summary = {
    file,
    kind: output.kind,
    productName: output.productName,
    width: output.width,
    height: output.height,
    bandCount: output.bandCount,
    nodataPixels: output.nodataPixels,
    options,
    files: files.map((f) => ({ role: f.role, path: f.path, bytes: f.png.length })),
    seconds: Math.round(seconds * 1000) / 1000,
    ...(output.warnings?.length ? { warnings: output.warnings } : {}),
  };
  if (flags.json) {
    // JSON has no NaN: a NaN nodata override is written as the string "nan".
    io.stdout(`${JSON.stringify(summary, (_k, v: unknown) => (typeof v === "number" && Number.isNaN(v) ? "nan" : v))}\n`);
    return;
  }
  const pct = (output.nodataPixels / (output.width * output.height)) * 100;
  const mapping =
    output.kind === "product"
      ? ` (rgb=${options.rgbBands.join(",")} nir=${options.nirBand ?? "none"}, stretch ${options.stretchPercentiles ? `${options.stretchPercentiles.join("–")} %` : "min→max"})`
      : "";
  io.stdout(
    [
      `${output.productName}: ${output.kind} ${output.width}×${output.height}, ${output.bandCount} band${output.bandCount === 1 ? "" : "s"}${mapping}`,
      `nodata: ${output.nodataPixels} px (${pct.toFixed(1)} %)`,
      ...(output.warnings ?? []).map((w) => `warning: ${w}`),
      ...files.map((f) => `wrote ${f.path} (${formatBytes(f.png.length)})`),
      `took ${seconds.toFixed(2)} s`,
      "",
    ].join("\n"),
  );
}

interface OutputFile {
  role: string;
  path: string;
  png: Buffer;
}

function outputFiles(output: NormalisedOutput, dir: string): OutputFile[] {
  if (output.kind === "image") return output.images.map((img) => ({ role: img.role, path: join(dir, `${output.productName}.png`), png: img.png }));
  const files: OutputFile[] = output.images.map((img) => ({ role: img.role, path: join(dir, `${output.productName}_${img.role}.png`), png: img.png }));
  if (output.nodataMask) files.push({ role: "nodata", path: join(dir, `${output.productName}_nodata.png`), png: output.nodataMask });
  return files;
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}
