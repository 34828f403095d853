import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../shared/config/load.ts";

/**
 * The malformed-input corpus, configuration values: each bad value is refused at start with an
 * issue that names the variable, and every problem is reported at once (two bad values, two issues).
 */
interface ConfigCase {
  id: string;
  category: "config";
  env: Record<string, string>;
  expect: { issue: string };
  why: string;
}

const CASES = JSON.parse(readFileSync(new URL("../fixtures/corpus/config.json", import.meta.url), "utf8")) as ConfigCase[];

describe("malformed-input corpus: configuration values", () => {
  it("starts from a configuration that loads", () => {
    expect(() => loadConfig({})).not.toThrow();
  });

  it.each(CASES.map((c) => [c.id, c] as const))("%s is refused naming the variable", (_id, c) => {
    const error = (() => {
      try {
        loadConfig(c.env);
        return null;
      } catch (err) {
        return err;
      }
    })();
    expect(error, c.why).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues.some((i) => i.startsWith(c.expect.issue)), (error as ConfigError).message).toBe(true);
  });

  it("reports every bad value at once", () => {
    const env = Object.assign({}, ...CASES.filter((c) => !c.id.startsWith("cfg-gcp") && !c.id.startsWith("cfg-encord")).map((c) => c.env)) as Record<string, string>;
    const error = (() => {
      try {
        loadConfig(env);
      } catch (err) {
        return err as ConfigError;
      }
      return null;
    })();
    const named = new Set(Object.keys(env));
    for (const key of named) {
      if (key === "THRESHOLD_N") continue; // one case sets it only so that M can exceed it
      expect(error?.issues.some((i) => i.startsWith(key)), `${key} among ${error?.message}`).toBe(true);
    }
  });
});
