import { describe, expect, it } from "vitest";
import { PermanentError, TransientError } from "../../../../shared/errors.ts";
import { isSecretReference, resolveSecretReferences, secretVersionName, type SecretAccessor } from "../../../../shared/adapters/gcp/secrets.ts";

function accessor(values: Record<string, string>, fail?: { code: number }): SecretAccessor & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async access(name) {
      calls.push(name);
      if (fail) throw Object.assign(new Error(`grpc ${fail.code} (request had value-in-metadata)`), { code: fail.code });
      const v = values[name];
      if (v === undefined) throw Object.assign(new Error("not found"), { code: 5 });
      return v;
    },
  };
}

describe("secret references", () => {
  it("expands short and full references to version names", () => {
    expect(secretVersionName("sm://slack-token", "proj")).toBe("projects/proj/secrets/slack-token/versions/latest");
    expect(secretVersionName("sm://projects/other/secrets/key/versions/3", "proj")).toBe("projects/other/secrets/key/versions/3");
    expect(secretVersionName("sm://projects/other/secrets/key", undefined)).toBe("projects/other/secrets/key/versions/latest");
    expect(() => secretVersionName("sm://slack-token", undefined)).toThrow(/GOOGLE_CLOUD_PROJECT/);
    expect(() => secretVersionName("sm://bad name!", "p")).toThrow(PermanentError);
    expect(isSecretReference("sm://x")).toBe(true);
    expect(isSecretReference("xoxb-plain")).toBe(false);
  });

  it("replaces only sm:// values and leaves the rest untouched", async () => {
    const secrets = accessor({ "projects/p/secrets/slack/versions/latest": "xoxb-from-secret-manager" });
    const env = { GOOGLE_CLOUD_PROJECT: "p", SLACK_BOT_TOKEN: "sm://slack", REGION: "europe-west4" };
    const resolved = await resolveSecretReferences(env, secrets);
    expect(resolved).toEqual({ GOOGLE_CLOUD_PROJECT: "p", SLACK_BOT_TOKEN: "xoxb-from-secret-manager", REGION: "europe-west4" });
    expect(env.SLACK_BOT_TOKEN).toBe("sm://slack"); // the input is not mutated
  });

  it("returns the same env object, without touching Secret Manager, when nothing is a reference", async () => {
    const secrets = accessor({});
    const env = { DB_PASSWORD: "plain" };
    expect(await resolveSecretReferences(env, secrets)).toBe(env);
    expect(secrets.calls).toEqual([]);
  });

  it("names the variable and the secret on failure, never the value or the raw error", async () => {
    const missing = await resolveSecretReferences({ GOOGLE_CLOUD_PROJECT: "p", ENCORD_SSH_KEY: "sm://encord" }, accessor({})).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(PermanentError);
    expect((missing as Error).message).toBe("ENCORD_SSH_KEY: secret version projects/p/secrets/encord/versions/latest does not exist");

    const flaky = await resolveSecretReferences({ GOOGLE_CLOUD_PROJECT: "p", X: "sm://x" }, accessor({}, { code: 14 })).catch((e: unknown) => e);
    expect(flaky).toBeInstanceOf(TransientError);
    expect((flaky as Error).message).not.toContain("value-in-metadata");
    expect((flaky as Error).cause).toBeUndefined();
  });
});
