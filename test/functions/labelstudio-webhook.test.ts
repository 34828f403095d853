import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseEnvelope } from "../../shared/messages/build.ts";
import { startFunction, type FunctionTest } from "./harness.ts";

const SECRET = "s3cret-shared-with-label-studio";
let t: FunctionTest;
beforeAll(async () => {
  t = await startFunction("labelstudio-webhook", { LABEL_STUDIO_WEBHOOK_SECRET: SECRET, LABEL_STUDIO_WEBHOOK_HEADER: "X-Loop-Secret" });
});
afterAll(async () => t.close());

/** What Label Studio's run_webhook POSTs: the action and, with send_payload, the annotation and task. */
const delivery = (headers: Record<string, string>) =>
  fetch(`${t.url}/`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ action: "ANNOTATION_CREATED", annotation: { id: 7, result: [] }, task: { id: 3 }, project: { id: 1 } }),
  });

describe("labelstudio-webhook function", () => {
  it("publishes the poll command (as `mlops command poll` does) for a call with the shared secret", async () => {
    const res = await delivery({ "X-Loop-Secret": SECRET });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ nudged: true });
    expect(t.published).toHaveLength(1);
    const envelope = parseEnvelope(t.published[0]);
    expect(envelope.type).toBe("command");
    expect(envelope.data).toEqual({ name: "poll", actor: "labelstudio-webhook" });
  });

  it("answers 401 and publishes nothing without the header, with a wrong secret, or a secret in another header", async () => {
    const before = t.published.length;
    for (const headers of [{} as Record<string, string>, { "X-Loop-Secret": `${SECRET}x` }, { "X-Loop-Secret": SECRET.slice(0, -1) }, { Authorization: `Bearer ${SECRET}` }]) {
      const res = await delivery(headers);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: "unauthenticated" });
    }
    expect(t.published).toHaveLength(before);
    expect(JSON.stringify(t.logs)).not.toContain(SECRET);
  });

  it("refuses other methods", async () => {
    const res = await fetch(`${t.url}/`, { headers: { "X-Loop-Secret": SECRET } });
    expect(res.status).toBe(405);
  });
});
