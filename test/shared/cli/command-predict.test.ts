import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { commandAction, parseCommand } from "../../../shared/cli/commands/ops-action.ts";
import { CliError } from "../../../shared/cli/errors.ts";
import { parseEnvelope } from "../../../shared/messages/build.ts";

/** `mlops command predict <alias> <prefix>` publishes the `predict` command (locally: to the workspace spool). */
describe("mlops command predict", () => {
  let workspace: string;
  beforeEach(() => {
    workspace = mkdtempSync(join(tmpdir(), "mlops-cli-predict-"));
    vi.stubEnv("MLOPS_RUNTIME", "local");
    vi.stubEnv("MLOPS_WORKSPACE", workspace);
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
    rmSync(workspace, { recursive: true, force: true });
  });

  it("publishes { name: predict, alias, prefix, actor } on the commands topic", async () => {
    await commandAction("predict", ["staging", "uploads/2026/"], { actor: "ops@example.com" });
    const files = readdirSync(join(workspace, "spool")).filter((f) => f.endsWith(".json"));
    expect(files).toHaveLength(1);
    const envelope = parseEnvelope(JSON.parse(readFileSync(join(workspace, "spool", files[0]!), "utf8")));
    expect(envelope.type).toBe("command");
    expect(envelope.data).toEqual({ name: "predict", alias: "staging", prefix: "uploads/2026/", actor: "ops@example.com" });
  });

  it("takes a gs:// prefix, defaults to the whole archive, and refuses a missing or malformed alias", () => {
    expect(parseCommand("predict", ["prod", "gs://other-bucket/batch/"], "me")).toEqual({ name: "predict", alias: "prod", prefix: "gs://other-bucket/batch/", actor: "me" });
    expect(parseCommand("predict", ["prod"], "me")).toEqual({ name: "predict", alias: "prod", prefix: "", actor: "me" });
    expect(() => parseCommand("predict", [], "me")).toThrow(CliError);
    expect(() => parseCommand("predict", ["no/such alias", "x/"], "me")).toThrow(/alias/);
  });
});
