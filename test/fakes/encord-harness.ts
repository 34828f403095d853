import { loadConfig, type Config } from "../../shared/config/load.ts";
import { memoryLogger, systemClock } from "../../shared/adapters/basics.ts";
import { createEncordBackend, type EncordBackendDeps } from "../../shared/adapters/encord/backend.ts";
import type { AnnotationBackend, Logger, RegistrationRequest } from "../../shared/ports.ts";
import { generateTestKey } from "./encord-keys.ts";
import { startFakeEncord, type FakeEncord, type FakeEncordOptions } from "./encord-server.ts";

/**
 * One-call setup for tests (and the lead's local-loop runs) of the Encord backend: a fresh test
 * key, the fake server registered with it, a config pointing at it, and a backend factory whose
 * sleeps are recorded instead of waited.
 */
export interface EncordHarness {
  fake: FakeEncord;
  key: { openssh: string; publicKeyHex: string };
  config: Config;
  /** Sleeps the backend asked for (ms), in order. */
  sleeps: number[];
  log: Logger & { entries: { level: string; message: string; fields: Record<string, unknown> }[] };
  backend(overrides?: Partial<EncordBackendDeps>): AnnotationBackend;
  close(): Promise<void>;
}

export async function startEncordHarness(options: Partial<FakeEncordOptions> & { env?: Record<string, string> } = {}): Promise<EncordHarness> {
  const key = generateTestKey();
  const { env, ...fakeOptions } = options;
  const fake = await startFakeEncord({ publicKeyHex: key.publicKeyHex, ...fakeOptions });
  const config = loadConfig(fake.env({ ENCORD_SSH_KEY: key.openssh, ...env }));
  const sleeps: number[] = [];
  const log = memoryLogger();
  return {
    fake,
    key,
    config,
    sleeps,
    log,
    backend: (overrides = {}) =>
      createEncordBackend(config, {
        log,
        clock: systemClock,
        sleep: async (ms) => {
          sleeps.push(ms);
        },
        ...overrides,
      }),
    close: () => fake.close(),
  };
}

/** A product registration request: RGB + NIR PNGs in the annotation bucket. */
export function productRequest(n: number, bucket = "annotation"): RegistrationRequest {
  const name = `S2_${String(n).padStart(5, "0")}`;
  return {
    itemId: `item_${name}`,
    title: name,
    kind: "product",
    contentSha256: `sha-${name}`,
    images: [
      { role: "nir", uri: `gs://${bucket}/items/${name}/${name}_nir.png`, width: 64, height: 48 },
      { role: "rgb", uri: `gs://${bucket}/items/${name}/${name}_rgb.png`, width: 64, height: 48 },
    ],
  };
}

/** A plain image registration request. */
export function imageRequest(n: number, bucket = "annotation"): RegistrationRequest {
  const name = `cam_${String(n).padStart(5, "0")}`;
  return {
    itemId: `item_${name}`,
    title: name,
    kind: "image",
    contentSha256: `sha-${name}`,
    images: [{ role: "image", uri: `gs://${bucket}/items/${name}/${name}.png`, width: 32, height: 32 }],
  };
}
