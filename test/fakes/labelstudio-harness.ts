import { loadConfig, type Config } from "../../shared/config/load.ts";
import { memoryLogger, systemClock } from "../../shared/adapters/basics.ts";
import { createLabelStudioBackend, type LabelStudioBackendDeps } from "../../shared/adapters/labelstudio/backend.ts";
import { maskToBrushRle } from "../../shared/core/annotation/labelstudio-rle.ts";
import type { AnnotationBackend, Logger, RegistrationRequest } from "../../shared/ports.ts";
import { startFakeLabelStudio, type FakeLabelStudio, type FakeLabelStudioOptions } from "./labelstudio-server.ts";

/** One-call setup of the Label Studio backend against its fake; sleeps are recorded, not waited. */
export interface LabelStudioHarness {
  fake: FakeLabelStudio;
  config: Config;
  sleeps: number[];
  log: Logger & { entries: { level: string; message: string; fields: Record<string, unknown> }[] };
  backend(overrides?: Partial<LabelStudioBackendDeps>): AnnotationBackend;
  close(): Promise<void>;
}

export async function startLabelStudioHarness(options: FakeLabelStudioOptions & { env?: Record<string, string> } = {}): Promise<LabelStudioHarness> {
  const { env, ...fakeOptions } = options;
  const fake = await startFakeLabelStudio(fakeOptions);
  const config = loadConfig(fake.env(env));
  const sleeps: number[] = [];
  const log = memoryLogger();
  return {
    fake,
    config,
    sleeps,
    log,
    backend: (overrides = {}) => createLabelStudioBackend(config, { log, clock: systemClock, sleep: async (ms) => void sleeps.push(ms), ...overrides }),
    close: () => fake.close(),
  };
}

export function imageRequest(n: number, size = { width: 6, height: 4 }, priority?: number): RegistrationRequest {
  const name = `cam_${String(n).padStart(5, "0")}`;
  return {
    itemId: `item_${name}`,
    title: name,
    kind: "image",
    contentSha256: `sha-${name}`,
    images: [{ role: "image", uri: `gs://annotation/items/${name}/${name}.png`, ...size }],
    ...(priority === undefined ? {} : { priority }),
  };
}

/** A brush result as the editor saves it: one region per class value present in `classMask`. */
export function brushResult(classMask: Uint8Array, width: number, height: number, names: readonly string[], control = "tag", image = "image"): unknown[] {
  const out: unknown[] = [];
  names.forEach((name, id) => {
    const on = classMask.map((v) => (v === id ? 1 : 0));
    if (!on.some((v) => v === 1)) return;
    out.push({ id: `r${id}`, type: "brushlabels", from_name: control, to_name: image, original_width: width, original_height: height, image_rotation: 0, origin: "manual", value: { format: "rle", rle: maskToBrushRle(on), brushlabels: [name] } });
  });
  return out;
}
