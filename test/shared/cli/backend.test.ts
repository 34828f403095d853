import { join } from "node:path";
import { Command } from "commander";
import { afterEach, describe, expect, it, vi } from "vitest";
import { registerBackendCommand } from "../../../shared/cli/commands/backend.ts";
import { runBackendCheck } from "../../../shared/cli/commands/backend-action.ts";
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
  it("passes every step against the seed project with the registered key, and prints the class binding", async () => {
    const env = await envWith();
    const backend = h!.backend();
    await backend.register([productRequest(1), productRequest(2)]);
    const fill = (h!.fake.state.editorOntology as { objects: { name: string; featureNodeHash: string }[] }).objects.find((o) => o.name === "Fill")!;
    h!.fake.completeLabel("item_S2_00001", (t) => ({
      label_hash: t.labelHash, data_type: "img_group", last_edited_at: "Thu, 02 Jan 2025 03:04:05 UTC",
      data_units: { u0: { data_sequence: "0", width: 4, height: 3, labels: { objects: [
        { objectHash: "o1", featureHash: fill.featureNodeHash, name: "Fill", shape: "bitmask", bitmask: { top: 0, left: 0, width: 4, height: 3, rleString: "12202O" } },
        { objectHash: "o2", featureHash: "pin", name: "Marker", shape: "point", point: { "0": { x: 0.5, y: 0.5 } } },
      ], classifications: [] } } },
    }));

    const { io, out, err } = capture();
    expect(await runBackendCheck(env, { json: true }, io)).toBe(0);
    expect(err).toEqual([]);
    const report = JSON.parse(out[0]!) as { ok: boolean; backend: string; steps: { name: string; ok: boolean; detail: string; lines?: string[] }[]; publicKey: string };
    expect(report.ok).toBe(true);
    expect(report.steps.map((s) => [s.name, s.ok])).toEqual([
      ["cloud integrations", true], ["project and workflow", true], ["class binding", true], ["dataset", true],
      ["storage folder", true], ["legacy API (label rows)", true], ["label row", true],
    ]);
    const step = (name: string) => report.steps.find((s) => s.name === name)!;
    expect(step("cloud integrations").detail).toContain('"gcs-annotation"');
    expect(step("project and workflow").detail).toContain("Annotate 1 → Review 1 → Complete → Archive");
    expect(step("class binding").lines!.slice(0, 5)).toEqual([
      expect.stringMatching(/^class 0 Fill → "Fill" \(bitmask, /), expect.stringMatching(/^class 1 Clear → "Clear" \(bitmask, /),
      expect.stringMatching(/^class 2 Cloud → "Cloud" \(bitmask, /), expect.stringMatching(/^class 3 Thin_Cloud → "Thin_Cloud" \(bitmask, /),
      expect.stringMatching(/^class 4 Cloud_Shadow → "Cloud_Shadow" \(bitmask, /),
    ]);
    expect(step("dataset").detail).toBe(`dataset ${h!.fake.state.datasetHash} is attached to the project`);
    expect(step("storage folder").detail).toMatch(/^storage folder "mlops-loop" \(.+\) is readable$/);
    expect(step("legacy API (label rows)").detail).toBe('2 label row(s), 1 labelled in "Complete"');
    expect(step("label row").detail).toMatch(/reads: 1 object\(s\) \(Fill\); 1 object\(s\) skipped/);
    expect(report.publicKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/=]+ mlops-loop$/);
  });

  it("prints the class binding in readable lines without --json", async () => {
    const env = await envWith();
    const { io, out, err } = capture();
    expect(await runBackendCheck(env, {}, io)).toBe(0);
    expect(err).toEqual([]);
    expect(out[0]).toBe(`Encord backend check against ${h!.fake.url}`);
    expect(out.filter((l) => l.includes("ok  "))).toHaveLength(7);
    expect(out).toContain("  ok   3/7 class binding: 5 classes bound to the project's ontology");
    expect(out.filter((l) => /^ {9}class \d \w+ → "\w+" \(bitmask, /.test(l))).toHaveLength(5);
    // Not attached and no folder yet: both are fine, registration sees to them.
    expect(out.find((l) => l.includes("4/7 dataset"))).toMatch(/readable and not attached to the project yet/);
    expect(out.find((l) => l.includes("5/7 storage folder"))).toMatch(/does not exist yet: the first registration creates it/);
  });

  it("exits non-zero naming a class the project's ontology lacks, and lists Encord objects with no class", async () => {
    h = await startEncordHarness({
      ontology: { objects: ["Fill", "Cloud_Shadow", "Clear", "Cloud", "Snow"].map((name, i) => ({ id: String(i), name, shape: "bitmask", featureNodeHash: `h${i}` })) },
    });
    const env = h.fake.env({ ENCORD_SSH_KEY: h.key.openssh, MLOPS_WORKSPACE: "/tmp/ws" });
    const { io, out, err } = capture();
    expect(await runBackendCheck(env, {}, io)).toBe(1);
    expect(err).toEqual([expect.stringMatching(/^step 3\/7 \(class binding\): class "Thin_Cloud" not bound: the project's ontology has no object named "Thin_Cloud": add a bitmask object named "Thin_Cloud", or change ONTOLOGY/)]);
    expect(out).toContain('         class 3 Thin_Cloud → MISSING — the project\'s ontology has no object named "Thin_Cloud": add a bitmask object named "Thin_Cloud", or change ONTOLOGY');
    expect(out.some((l) => l.includes('Encord objects with no class') && l.includes('"Snow" (bitmask)'))).toBe(true);
    expect(out.find((l) => l.includes("7/7 label row"))).toMatch(/skipped: needs "class binding"/);
  });

  it("says a class drawn in the wrong shape is not bound", async () => {
    h = await startEncordHarness({ classNames: ["Fill", "Clear"], env: { ONTOLOGY: '{"Fill":0,"Clear":1}' }, ontology: { objects: [
      { name: "Fill", shape: "bitmask", featureNodeHash: "f" }, { name: "Clear", shape: "polygon", featureNodeHash: "c" },
    ] } });
    const { io, err } = capture();
    expect(await runBackendCheck(h.fake.env({ ENCORD_SSH_KEY: h.key.openssh, ONTOLOGY: '{"Fill":0,"Clear":1}' }), {}, io)).toBe(1);
    expect(err[0]).toMatch(/"Clear" is a polygon object in the project's ontology, not a bitmask object/);
  });

  it("fails at step 1 with a wrong key and says so", async () => {
    const env = await envWith({ ENCORD_SSH_KEY: generateTestKey().openssh });
    const { io, out, err } = capture();
    expect(await runBackendCheck(env, {}, io)).toBe(1);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^step 1\/7 \(cloud integrations\): authentication failed — is the key registered in Encord\?/);
    expect(out.some((l) => l.includes("FAIL 1/7"))).toBe(true);
    expect(out.filter((l) => l.includes("skipped: the key was refused"))).toHaveLength(6);
    expect(h!.fake.state.requests).toHaveLength(1);
  });

  it("names step 2 when the complete stage does not exist, and skips the steps that need the project", async () => {
    const env = await envWith({ ENCORD_COMPLETE_STAGE: "Done" });
    const { io, out } = capture();
    expect(await runBackendCheck(env, { json: true }, io)).toBe(1);
    const report = JSON.parse(out[0]!) as { ok: boolean; steps: { ok: boolean; detail: string }[] };
    expect(report.ok).toBe(false);
    expect(report.steps.map((s) => s.ok)).toEqual([true, false, false, false, true, false, false]);
    expect(report.steps[1]!.detail).toContain('no stage titled "Done"');
    expect(report.steps[2]!.detail).toBe('skipped: needs "project and workflow"');
    expect(report.steps[6]!.detail).toMatch(/^skipped: needs "class binding"/);
  });

  it("names the dataset step's fix when the dataset is neither attached nor readable", async () => {
    const env = await envWith({ ENCORD_DATASET_HASH: "00000000-0000-4000-8000-000000000000" });
    const { io, err } = capture();
    expect(await runBackendCheck(env, {}, io)).toBe(1);
    expect(err).toEqual([expect.stringMatching(/^step 4\/7 \(dataset\): .*not attached to the project and the key cannot read it .*check ENCORD_DATASET_HASH/)]);
  });

  it("names the folder step's fix when the folder cannot be read", async () => {
    const env = await envWith();
    await h!.backend().register([productRequest(1)]); // creates the folder
    h!.fake.failNext({ match: (r) => r.method === "GET" && /storage\/folders\/[^/]+\/items/.test(r.path), status: 403 });
    const { io, err } = capture();
    expect(await runBackendCheck(env, {}, io)).toBe(1);
    expect(err).toEqual([expect.stringMatching(/^step 5\/7 \(storage folder\): storage folder "mlops-loop" .* cannot be read .*set ENCORD_FOLDER/)]);
  });

  it("reports an encrypted key at step 1 without calling Encord", async () => {
    const env = await envWith({ ENCORD_SSH_KEY: openSshEncryptedEd25519(generateTestKey().seed) });
    const { io, err } = capture();
    expect(await runBackendCheck(env, {}, io)).toBe(1);
    expect(err[0]).toMatch(/^step 1\/7 \(cloud integrations\): .*encrypted OpenSSH keys are not supported/);
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
