import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { runBackendCheck } from "../../../shared/cli/commands/backend-action.ts";
import { DEFAULT_ONTOLOGY } from "../../../shared/config/schema.ts";
import { labelingConfigFor } from "../../../shared/core/annotation/labelstudio-config.ts";
import { brushResult, imageRequest, startLabelStudioHarness, type LabelStudioHarness } from "../../fakes/labelstudio-harness.ts";

let h: LabelStudioHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

type Report = { ok: boolean; backend: string; steps: { name: string; ok: boolean; detail: string; lines?: string[] }[] };

async function check(env: Record<string, string>): Promise<{ code: number; report: Report }> {
  const { io, out } = capture();
  const code = await runBackendCheck({ MLOPS_WORKSPACE: "/tmp/ws", ...env }, { json: true }, io);
  return { code, report: JSON.parse(out[0]!) as Report };
}

describe("mlops backend check (labelstudio)", () => {
  it("passes every step on a registered, annotated project with a GCS storage of the annotation bucket", async () => {
    h = await startLabelStudioHarness();
    await h.backend().register([imageRequest(1)]);
    const [task] = h.fake.tasks.values();
    h.fake.gcsStorages.push({ id: 9, project: task!.project, bucket: "annotation", prefix: "items/", title: "items" });
    h.fake.annotate(task!.id, brushResult(Uint8Array.from({ length: 24 }, (_, i) => (i < 12 ? 1 : 2)), 6, 4, DEFAULT_ONTOLOGY));
    const { code, report } = await check(h.fake.env());
    expect(code).toBe(0);
    expect(report.backend).toBe("labelstudio");
    expect(report.steps.map((s) => [s.name, s.ok])).toEqual([["auth", true], ["project", true], ["labeling config", true], ["image access", true], ["annotation", true]]);
    expect(report.steps[2]!.lines!.slice(0, 2)).toEqual(['class 0 Fill → Label "Fill" of tag', 'class 1 Clear → Label "Clear" of tag']);
    expect(report.steps[3]!.detail).toBe('GCS source storage 9 of bucket "annotation" resolves the tasks\' gs:// URIs');
    expect(report.steps[4]!.detail).toMatch(/reads: 2 mask\(s\) \(Clear, Cloud\)/);
  });

  it("names the fix of each failing step: refused key; missing class; missing storage", async () => {
    h = await startLabelStudioHarness();
    const bad = await check(h.fake.env({ LABEL_STUDIO_API_KEY: "not-the-key" }));
    expect(bad.code).toBe(1);
    expect(bad.report.steps[0]).toMatchObject({ name: "auth", ok: false });
    expect(bad.report.steps[0]!.detail).toMatch(/API key was refused.*LABEL_STUDIO_API_KEY/);
    expect(bad.report.steps.slice(1).every((s) => s.detail.startsWith("skipped:"))).toBe(true);
    expect(JSON.stringify(bad.report)).not.toContain("not-the-key");

    const p = h.fake.createProject("Cloud masks", labelingConfigFor(["Fill", "Clear", "Cloud"]));
    const unbound = await check(h.fake.env({ LABEL_STUDIO_PROJECT: String(p.id) }));
    const config = unbound.report.steps.find((s) => s.name === "labeling config")!;
    expect(config.ok).toBe(false);
    expect(config.detail).toMatch(/no Label for "Thin_Cloud", "Cloud_Shadow"/);
    expect(config.lines).toContain('    <Label value="Cloud_Shadow" background="#9467bd"/>');
    const storage = unbound.report.steps.find((s) => s.name === "image access")!;
    expect(storage.ok).toBe(false);
    expect(storage.detail).toMatch(/GCS source storage of bucket "annotation".*Add Source Storage/);
    expect(unbound.report.steps.find((s) => s.name === "annotation")!.detail).toBe('skipped: needs "labeling config"');
  });

  it("reports a project not created yet as fine, and fetches a task's image under LABEL_STUDIO_IMAGE_URL_PREFIX", async () => {
    const status = { code: 404 };
    const images = createServer((_req, res) => res.writeHead(status.code).end("png"));
    await new Promise<void>((r) => images.listen(0, "127.0.0.1", r));
    const prefix = `http://127.0.0.1:${(images.address() as AddressInfo).port}/objects/`;
    h = await startLabelStudioHarness({ env: { LABEL_STUDIO_IMAGE_URL_PREFIX: prefix } });
    const fresh = await check(h.fake.env());
    expect(fresh.code).toBe(0);
    expect(fresh.report.steps[1]!.detail).toMatch(/no project titled "mlops-loop" yet: the first registration creates it/);
    try {
      const env = h.fake.env({ LABEL_STUDIO_IMAGE_URL_PREFIX: prefix });
      await h.backend().register([imageRequest(1)]);
      const missing = await check(env);
      expect(missing.report.steps[3]!.detail).toMatch(/answered HTTP 404: LABEL_STUDIO_IMAGE_URL_PREFIX must serve/);
      status.code = 200;
      const served = await check(env);
      expect(served.report.steps[3]).toMatchObject({ ok: true, detail: expect.stringMatching(/image answers HTTP 200/) });
    } finally {
      await new Promise<void>((r) => images.close(() => r()));
    }
  });
});
