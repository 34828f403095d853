import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { MANIFEST_PATH, renderManifest } from "../../scripts/deployables.ts";

describe("infra/deployables.json", () => {
  it("is what `npm run deployables` writes from shared/deployables.ts (not stale)", () => {
    // On failure: run `npm run deployables` and commit infra/deployables.json.
    expect(readFileSync(MANIFEST_PATH, "utf8")).toBe(renderManifest());
  });

  it("lists with each function the environment and secrets of its sections, never a secret as plain env", () => {
    const manifest = JSON.parse(readFileSync(MANIFEST_PATH, "utf8")) as {
      functions: Record<string, { env: Record<string, string[]>; secrets: Record<string, string[]> }>;
    };
    for (const [name, fn] of Object.entries(manifest.functions)) {
      for (const backend of ["local", "encord"]) {
        expect(fn.env[backend]!.filter((k) => fn.secrets[backend]!.includes(k)), name).toEqual([]);
        expect(fn.secrets[backend], name).toContain("DB_PASSWORD");
      }
    }
  });
});
