import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { registerMetricsCommand } from "../../../shared/cli/commands/metrics.ts";

const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/coco/${name}`, import.meta.url));

async function runCli(args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number | undefined }> {
  let stdout = "";
  let stderr = "";
  let exitCode: number | undefined;
  const program = new Command("mlops").exitOverride();
  registerMetricsCommand(program, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    setExitCode: (code) => (exitCode = code),
  });
  await program.parseAsync(["node", "mlops", "metrics", "coco", ...args]);
  return { stdout, stderr, exitCode };
}

describe("mlops metrics coco", () => {
  it("prints COCOeval's summary lines and a per-class table", async () => {
    const { stdout, stderr, exitCode } = await runCli(["--gt", fixture("fixture-a.gt.json"), "--dt", fixture("fixture-a.dt.json")]);
    expect(exitCode).toBe(0);
    expect(stderr).toBe("");
    const lines = stdout.split("\n");
    // Fixture A: AP = 506/1010 = .50099 → "0.501"; AR1 = 0; no medium objects → −1.
    expect(lines[0]).toBe(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.501");
    expect(lines[4]).toBe(" Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000");
    expect(lines[6]).toBe(" Average Recall     (AR) @[ IoU=0.50:0.95 | area=   all | maxDets=  1 ] = 0.000");
    expect(lines.filter((l) => l.startsWith(" Average"))).toHaveLength(12);
    expect(stdout).toMatch(/^car\s+0\.501\s+0\.667\s+0\.667\s+0\.800$/m);
  });

  it("prints one JSON object with the twelve stats at full precision and perClass", async () => {
    const { stdout, exitCode } = await runCli(["--gt", fixture("fixture-a.gt.json"), "--dt", fixture("fixture-a.dt.json"), "--json"]);
    expect(exitCode).toBe(0);
    const report = JSON.parse(stdout) as Record<string, unknown>;
    expect(Object.keys(report)).toEqual(["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl", "perClass"]);
    expect(Math.abs((report.AP as number) - 506 / 1010)).toBeLessThan(1e-12);
    expect(report.APm).toBe(-1);
    expect(report.perClass).toEqual([
      { categoryId: 1, name: "car", AP: report.AP, AP50: report.AP50, AP75: report.AP75, AR100: report.AR100 },
    ]);
  });

  it("pools categories with --class-agnostic", async () => {
    const { stdout } = await runCli(["--gt", fixture("fixture-a.gt.json"), "--dt", fixture("fixture-a.dt.json"), "--json", "--class-agnostic"]);
    expect(JSON.parse(stdout)).toMatchObject({ perClass: [] });
  });

  it.each([
    ["a missing file", ["--gt", fixture("nope.json"), "--dt", fixture("fixture-a.dt.json")], /cannot read the ground-truth file .*nope\.json/],
    ["a truncated file", ["--gt", fixture("fixture-a.gt.json"), "--dt", fixture("truncated.dt.json")], /detections file .*truncated\.dt\.json is not valid JSON/],
    ["a result on an unknown image", ["--gt", fixture("fixture-a.gt.json"), "--dt", fixture("unknown-image.dt.json")], /detections\[1\]\.image_id 7 is not an image/],
    ["results given as ground truth", ["--gt", fixture("fixture-a.dt.json"), "--dt", fixture("fixture-a.dt.json")], /invalid COCO ground truth/],
  ])("exits 2 with a readable reason for %s", async (_, args, reason) => {
    const { stdout, stderr, exitCode } = await runCli(args);
    expect(exitCode).toBe(2);
    expect(stdout).toBe("");
    expect(stderr).toMatch(reason);
  });
});
