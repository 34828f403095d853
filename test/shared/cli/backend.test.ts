import { join } from "node:path";
import { Command } from "commander";
import { afterEach, describe, expect, it, vi } from "vitest";
import { registerBackendCommand, runBackendCheck } from "../../../shared/cli/commands/backend.ts";
import { generateTestKey, openSshEncryptedEd25519 } from "../../fakes/encord-keys.ts";
import { productRequest, startEncordHarness, type EncordHarness } from "../../fakes/encord-harness.ts";

let h: EncordHarness | undefined;
afterEach(async () => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  process.exitCode = undefined;
  await h?.close();
  h = undefined;
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

/** The env `mlops` would see: the fake's settings plus the key under test. */
async function envWith(extra: Record<string, string> = {}): Promise<Record<string, string>> {
  h = await startEncordHarness();
  return h.fake.env({ ENCORD_SSH_KEY: h.key.openssh, MLOPS_WORKSPACE: "/tmp/ws", ...extra });
}

describe("mlops backend check (encord)", () => {
  it("passes all three steps against Encord with the registered key", async () => {
    const env = await envWith();
    const backend = h!.backend();
    await backend.register([productRequest(1), productRequest(2)]);
    h!.fake.completeLabel("item_S2_00001", (t) => ({ label_hash: t.labelHash, data_type: "img_group", data_units: {} }));

    const { io, out, err } = capture();
    expect(await runBackendCheck(env, { json: true }, io)).toBe(0);
    expect(err).toEqual([]);
    const report = JSON.parse(out[0]!) as { ok: boolean; backend: string; steps: { name: string; ok: boolean; detail: string }[]; publicKey: string };
    expect(report.ok).toBe(true);
    expect(report.steps.map((s) => [s.name, s.ok])).toEqual([["cloud integrations", true], ["project and workflow", true], ["legacy API (label rows)", true]]);
    expect(report.steps[0]!.detail).toContain('"gcs-annotation"');
    expect(report.steps[1]!.detail).toContain("Annotate 1 → Review 1 → Complete → Archive");
    expect(report.steps[2]!.detail).toBe('2 label row(s), 1 in "Complete"');
    expect(report.publicKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/=]+ mlops-loop$/);
    // One signed v2 call per v2 step and one v1 call: both schemes were exercised.
    const checkRequests = h!.fake.state.requests.slice(-3).map((r) => r.queryType ?? r.path);
    expect(checkRequests).toEqual(["cloud-integrations", `projects/${h!.fake.state.projectHash}`, "labelrowmetadata"]);
  });

  it("prints readable lines without --json", async () => {
    const env = await envWith();
    const { io, out, err } = capture();
    expect(await runBackendCheck(env, {}, io)).toBe(0);
    expect(err).toEqual([]);
    expect(out[0]).toBe(`Encord backend check against ${h!.fake.url}`);
    expect(out.filter((l) => l.includes("ok  "))).toHaveLength(3);
  });

  it("fails at step 1 with a wrong key and says so", async () => {
    const env = await envWith({ ENCORD_SSH_KEY: generateTestKey().openssh });
    const { io, out, err } = capture();
    expect(await runBackendCheck(env, {}, io)).toBe(1);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^step 1\/3 \(cloud integrations\): authentication failed — is the key registered in Encord\?/);
    expect(out.some((l) => l.includes("FAIL 1/3"))).toBe(true);
    expect(h!.fake.state.requests).toHaveLength(1);
  });

  it("names step 2 when the complete stage does not exist, and skips step 3", async () => {
    const env = await envWith({ ENCORD_COMPLETE_STAGE: "Done" });
    const { io, out } = capture();
    expect(await runBackendCheck(env, { json: true }, io)).toBe(1);
    const report = JSON.parse(out[0]!) as { ok: boolean; steps: { ok: boolean; detail: string }[] };
    expect(report.ok).toBe(false);
    expect(report.steps.map((s) => s.ok)).toEqual([true, false, false]);
    expect(report.steps[1]!.detail).toContain('no stage titled "Done"');
    expect(report.steps[2]!.detail).toMatch(/skipped/);
  });

  it("reports an encrypted key at step 1 without calling Encord", async () => {
    const env = await envWith({ ENCORD_SSH_KEY: openSshEncryptedEd25519(generateTestKey().seed) });
    const { io, err } = capture();
    expect(await runBackendCheck(env, {}, io)).toBe(1);
    expect(err[0]).toMatch(/^step 1\/3 \(cloud integrations\): .*encrypted OpenSSH keys are not supported/);
    expect(h!.fake.state.requests).toHaveLength(0);
  });

  it("exits 2 on a configuration error", async () => {
    const { io, err } = capture();
    expect(await runBackendCheck({ ANNOTATION_BACKEND: "encord" }, {}, io)).toBe(2);
    expect(err[0]).toMatch(/ENCORD_SSH_KEY_FILE/);
  });
});

describe("mlops backend check (local)", () => {
  it("reports the local inbox folder and exits 0", async () => {
    const { io, out } = capture();
    expect(await runBackendCheck({ ANNOTATION_BACKEND: "local", MLOPS_WORKSPACE: "/tmp/ws", BUCKET_ANNOTATION: "notes" }, { json: true }, io)).toBe(0);
    const report = JSON.parse(out[0]!) as { ok: boolean; backend: string; steps: { detail: string }[] };
    expect(report).toMatchObject({ ok: true, backend: "local" });
    expect(report.steps[0]!.detail).toBe(join("/tmp/ws", "buckets", "notes", "inbox/"));
  });
});

describe("registerBackendCommand", () => {
  it("wires `backend check --json` into a commander program and sets the exit code", async () => {
    const env = await envWith({ ENCORD_SSH_KEY: generateTestKey().openssh });
    for (const [k, v] of Object.entries(env)) vi.stubEnv(k, v);
    const written: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const program = new Command("mlops").exitOverride();
    registerBackendCommand(program);
    await program.parseAsync(["node", "mlops", "backend", "check", "--json"]);
    expect(process.exitCode).toBe(1);
    const report = JSON.parse(written.join("")) as { ok: boolean; steps: { name: string; ok: boolean }[] };
    expect(report.ok).toBe(false);
    expect(report.steps[0]).toMatchObject({ name: "cloud integrations", ok: false });
  });
});
