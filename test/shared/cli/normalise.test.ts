import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeCorruptUploads, makeDemoProduct } from "../../../shared/adapters/demo/products.ts";
import { registerNormaliseCommand } from "../../../shared/cli/commands/normalise.ts";

let dir: string;
let productPath: string;
let background: number;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "mlops-normalise-cli-"));
  const product = makeDemoProduct({ seed: 8, width: 40, height: 30, name: "S2_CLI" });
  background = product.groundTruth.mask.filter((c) => c === 0).length;
  productPath = join(dir, "S2_CLI.zip");
  await writeFile(productPath, product.zip);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(args: string[], env: Record<string, string> = {}) {
  const io = { stdout: "", stderr: "", exitCode: 0 };
  const program = new Command("mlops").exitOverride();
  registerNormaliseCommand(program, {
    stdout: (t) => void (io.stdout += t),
    stderr: (t) => void (io.stderr += t),
    setExitCode: (c) => void (io.exitCode = c),
    env,
  });
  await program.parseAsync(["normalise", ...args], { from: "user" });
  return io;
}

describe("mlops normalise", () => {
  it("writes RGB, NIR and nodata PNGs for a product and prints a summary", async () => {
    const out = join(dir, "summary");
    const io = await run([productPath, "--out", out]);
    expect(io.exitCode).toBe(0);
    expect((await readdir(out)).sort()).toEqual(["S2_CLI_nir.png", "S2_CLI_nodata.png", "S2_CLI_rgb.png"]);
    expect(io.stdout).toContain("S2_CLI: product 40×30, 4 bands (rgb=3,2,1 nir=4, stretch 2–98 %)");
    expect(io.stdout).toContain(`nodata: ${background} px`);
    expect(io.stdout).toContain(join(out, "S2_CLI_rgb.png"));
    const rgb = await sharp(join(out, "S2_CLI_rgb.png")).metadata();
    expect([rgb.width, rgb.height, rgb.channels]).toEqual([40, 30, 3]);
  });

  it("takes defaults from the environment, lets flags override them, and prints one JSON line with --json", async () => {
    const fromEnv = await run([productPath, "--out", join(dir, "env"), "--json"], { BAND_NIR: "none", STRETCH_PERCENTILES: "5,95" });
    const summary = JSON.parse(fromEnv.stdout) as Record<string, unknown>;
    expect(fromEnv.stdout.trim().split("\n")).toHaveLength(1);
    expect(summary).toMatchObject({
      kind: "product",
      productName: "S2_CLI",
      width: 40,
      height: 30,
      bandCount: 4,
      nodataPixels: background,
      options: { rgbBands: [3, 2, 1], nirBand: null, stretchPercentiles: [5, 95], nodataValue: null },
    });
    expect((summary.files as { role: string }[]).map((f) => f.role)).toEqual(["rgb", "nodata"]);

    const flags = await run([productPath, "--out", join(dir, "flags"), "--json", "--rgb", "1,2,3", "--nir", "2", "--stretch", "none", "--nodata", "nan"], {
      BAND_NIR: "none",
    });
    expect(JSON.parse(flags.stdout)).toMatchObject({ options: { rgbBands: [1, 2, 3], nirBand: 2, stretchPercentiles: null, nodataValue: "nan" } });
    expect((await readdir(join(dir, "flags"))).sort()).toEqual(["S2_CLI_nir.png", "S2_CLI_nodata.png", "S2_CLI_rgb.png"]);
  });

  it("writes <stem>.png for a plain image", async () => {
    const png = join(dir, "holiday.png");
    await sharp({ create: { width: 5, height: 4, channels: 3, background: "#336699" } }).png().toFile(png);
    const io = await run([png, "--out", join(dir, "plain")]);
    expect(io.exitCode).toBe(0);
    expect(await readdir(join(dir, "plain"))).toEqual(["holiday.png"]);
    expect(io.stdout).toContain("holiday: image 5×4, 3 bands");
  });

  it("exits 2 with the reason on stderr for bad input, bad flags and missing files", async () => {
    const corrupt = makeCorruptUploads(1);
    const bad = join(dir, "broken.zip");
    await writeFile(bad, corrupt.randomBytesZip);
    const io = await run([bad, "--out", join(dir, "bad")]);
    expect(io.exitCode).toBe(2);
    expect(io.stderr).toMatch(/corrupt_zip: broken\.zip is named \.zip but is not a zip archive/);
    expect(io.stdout).toBe("");

    const mapping = await run([productPath, "--out", join(dir, "bad"), "--rgb", "7,2,1"]);
    expect(mapping.exitCode).toBe(2);
    expect(mapping.stderr).toMatch(/bad_band_mapping: band 7 .* 4 bands/);

    const flag = await run([productPath, "--out", join(dir, "bad"), "--rgb", "3,2"]);
    expect(flag.exitCode).toBe(2);
    expect(flag.stderr).toMatch(/invalid --rgb: three band numbers/);

    const stretch = await run([productPath, "--out", join(dir, "bad"), "--stretch", "98,2"]);
    expect(stretch.exitCode).toBe(2);
    expect(stretch.stderr).toMatch(/invalid --stretch/);

    const missing = await run([join(dir, "nope.zip"), "--out", join(dir, "bad")]);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/cannot read .*nope\.zip: no such file/);

    const env = await run([productPath, "--out", join(dir, "bad")], { BAND_RGB: "1,2" });
    expect(env.exitCode).toBe(2);
    expect(env.stderr).toMatch(/BAND_RGB/);
  });
});
