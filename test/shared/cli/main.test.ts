import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMMAND_NAMES } from "../../../shared/messages/commands.ts";
import { CLI_COMMAND_NAMES } from "../../../shared/cli/commands/ops.ts";
import { buildProgram } from "../../../shared/cli/main.ts";
import { buildCli } from "../../../scripts/build-cli.ts";

const execFileAsync = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/coco/${name}`, import.meta.url));

describe("mlops declarations", () => {
  it("spells out the manual commands the message schema knows, in its order", () => {
    expect([...CLI_COMMAND_NAMES]).toEqual(COMMAND_NAMES);
  });

  it("declares every command without loading its work", () => {
    const names = buildProgram().commands.map((c) => c.name());
    expect(names).toEqual(["start", "demo", "status", "upload", "command", "db", "normalise", "metrics", "evaluate", "backend", "dataset", "runs"]);
  });
});

describe("bin/mlops.js", () => {
  it("prints the same help from the compiled CLI (or its fallback) as from the TypeScript sources", async () => {
    const run = (env: Record<string, string>) => execFileAsync(process.execPath, ["bin/mlops.js", "--help"], { cwd: ROOT, env: { ...process.env, ...env } });
    const [compiled, source] = await Promise.all([run({}), run({ MLOPS_CLI: "source" })]);
    expect(source.stdout).toContain("normalise [options] <file>");
    expect(compiled.stdout).toBe(source.stdout);
    // No npm, no deprecation or experimental warnings on stderr.
    expect(compiled.stderr).toBe("");
  });
});

describe("the compiled CLI (scripts/build-cli.ts)", () => {
  // Inside the repository, so the chunks resolve their dependencies from node_modules.
  const outdir = join(ROOT, "dist", `cli-test-${process.pid}`);
  let workspace: string;
  beforeAll(async () => {
    workspace = await mkdtemp(join(tmpdir(), "mlops-cli-build-"));
    const built = await buildCli({ outdir, log: () => undefined });
    expect(built?.sources).toBeGreaterThan(20);
  }, 300_000);
  afterAll(async () => {
    await rm(outdir, { recursive: true, force: true });
    await rm(workspace, { recursive: true, force: true });
  });

  async function runBuilt(args: string[]) {
    const script = `const { main } = await import(${JSON.stringify(pathToFileURL(join(outdir, "main.js")).href)}); await main(["node", "mlops", ...JSON.parse(process.argv[1])]);`;
    return execFileAsync(process.execPath, ["--input-type=module", "-e", script, JSON.stringify(args)], {
      cwd: ROOT,
      env: { ...process.env, MLOPS_WORKSPACE: workspace, DATABASE_URL: "" },
    });
  }

  it("computes COCO metrics in a lazily loaded chunk", async () => {
    const { stdout } = await runBuilt(["metrics", "coco", "--gt", fixture("fixture-a.gt.json"), "--dt", fixture("fixture-a.dt.json"), "--json"]);
    expect((JSON.parse(stdout) as { AP: number }).AP).toBeCloseTo(506 / 1010, 10);
  }, 300_000);

  it("finds files next to its sources (the migrations) from the bundle", async () => {
    // Opening the embedded database migrates it (from the bundle's loadMigrations, which throws
    // when shared/db/migrations/ is not where it looks); `db migrate` then has nothing left to do.
    const { stdout, stderr } = await runBuilt(["db", "migrate"]);
    expect(stderr).toBe("");
    expect(stdout).toBe("database is up to date\n");
    const status = await runBuilt(["status", "--json"]);
    expect(JSON.parse(status.stdout)).toMatchObject({ itemsTotal: 0 });
  }, 300_000);
});
