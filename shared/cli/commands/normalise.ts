import type { Command } from "commander";

/** Where the command writes; tests pass their own, the CLI uses the process's. */
export interface NormaliseCliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  setExitCode(code: number): void;
  env: Record<string, string | undefined>;
}

const processIo = (): NormaliseCliIo => ({
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  setExitCode: (code) => {
    process.exitCode = code;
  },
  env: process.env,
});

/**
 * `mlops normalise <file> --out <dir>`: runs the ingest normaliser on a local file so a user can
 * preview what annotators will see and tune the band mapping before uploading anything. Only the
 * declaration lives here; the work (zod, config, sharp, geotiff) loads when the command runs.
 */
export function registerNormaliseCommand(program: Command, io: NormaliseCliIo = processIo()): void {
  program
    .command("normalise")
    .description("preview the annotation images of a product zip, GeoTIFF or image (writes PNGs)")
    .argument("<file>", "product zip, GeoTIFF, PNG or JPEG")
    .requiredOption("--out <dir>", "folder for the PNGs (created if missing)")
    .option("--rgb <bands>", "1-based bands for red,green,blue (default: BAND_RGB, 3,2,1)")
    .option("--nir <band>", "1-based NIR band, or none (default: BAND_NIR, 4)")
    .option("--stretch <lo,hi>", "percentile stretch such as 2,98, or none for min→max (default: STRETCH_PERCENTILES)")
    .option("--nodata <value>", "nodata value, overriding the file's GDAL_NODATA (default: NODATA_VALUE)")
    .option("--json", "print one JSON object instead of a summary")
    .action(async (file: string, raw: Record<string, unknown>) => {
      const { normaliseAction } = await import("./normalise-action.ts");
      await normaliseAction(file, raw, io);
    });
}
