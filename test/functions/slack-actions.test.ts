import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../shared/config/load.ts";
import { SLACK_ACTION_IDS } from "../../shared/adapters/gcp/slack-actions.ts";
import { slackSignature } from "../../shared/adapters/gcp/slack-signature.ts";
import { runCommand } from "../../shared/core/usecases/commands.ts";
import { insertDecision } from "../../shared/db/queries/evaluations.ts";
import { parseEnvelope } from "../../shared/messages/build.ts";
import type { Command } from "../../shared/messages/commands.ts";
import type { Envelope } from "../../shared/messages/envelope.ts";
import { startFunction, TEST_ENV, type FunctionTest } from "./harness.ts";
import { modelCard, seedTraining } from "./seed.ts";

// A made-up value for these tests only.
const SECRET = "test-only-signing-secret";

let t: FunctionTest;
beforeAll(async () => {
  t = await startFunction("slack-actions", { SLACK_SIGNING_SECRET: SECRET });
});
afterAll(async () => t.close());

function clickBody(actionId: string, evaluationId: string, user = { id: "U123", username: "ada" }): string {
  const payload = {
    type: "block_actions",
    user: { ...user, team_id: "T1" },
    api_app_id: "A1",
    trigger_id: `trig-${actionId}-${evaluationId}`,
    response_url: "https://hooks.slack.com/actions/T1/1/x",
    container: { type: "message", message_ts: "1700000000.000100", channel_id: "C1" },
    actions: [{ action_id: actionId, block_id: "review", type: "button", value: evaluationId, action_ts: "1700000001.000200" }],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

function post(body: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${t.url}/`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body });
}

function signed(body: string, at = Math.floor(Date.now() / 1000), secret = SECRET): Record<string, string> {
  const timestamp = String(at);
  return { "x-slack-request-timestamp": timestamp, "x-slack-signature": slackSignature(secret, timestamp, body) };
}

/** A candidate waiting for a person's decision on prod (what promote leaves with policy prod=approve). */
async function seedPendingReview(evaluationId: string, modelId: string, runId: string): Promise<void> {
  const { versionId, outputPrefix } = await seedTraining(t.db, runId, "succeeded");
  await t.db.query(
    `INSERT INTO models (id, training_run_id, name, task, uri, card, dataset_version_id) VALUES ($1, $2, 'baseline', 'segmentation', $3, $4, $5)`,
    [modelId, runId, outputPrefix, JSON.stringify(modelCard("baseline", versionId)), versionId],
  );
  await t.db.query(
    `INSERT INTO evaluations (id, candidate_model_id, dataset_version_id, state, execution_name) VALUES ($1, $2, $3, 'succeeded', 'projects/p/locations/r/jobs/evaluate/executions/e1')`,
    [evaluationId, modelId, versionId],
  );
  await insertDecision(t.db, { id: `dec_${evaluationId}`, evaluationId, modelId, alias: "prod", outcome: "review", reasons: ["prod needs approval"], checks: [], policy: undefined, actor: "policy" });
}

/** Runs what the command function would do with a published command (all config sections loaded). */
async function deliver(envelope: Envelope): Promise<void> {
  const message = parseEnvelope(JSON.parse(JSON.stringify(envelope)));
  if (message.type !== "command") throw new Error(`expected a command, got ${message.type}`);
  // Its own publisher: what the command function emits is not slack-actions' to publish.
  const emitted: Envelope[] = [];
  await runCommand(message as Envelope<Command>, { ...t.deps, config: loadConfig(TEST_ENV), publisher: { publish: async (e) => void emitted.push(e) } });
}

const commands = () => t.published.filter((e) => e.type === "command");

describe("slack-actions function", () => {
  it("turns a signed Approve click into the CLI's approve command, which moves the alias", async () => {
    await seedPendingReview("eval_s1", "mdl_s1", "run_s1");
    const body = clickBody(SLACK_ACTION_IDS.approve, "eval_s1");
    const res = await post(body, signed(body));
    expect(res.status).toBe(200);
    expect(commands()).toHaveLength(1);
    const published = commands()[0]!;
    expect(published.data).toEqual({ name: "approve", actor: "slack:ada", evaluationId: "eval_s1" });

    await deliver(published);
    const moves = await t.db.query<{ alias: string; model_id: string; actor: string }>(`SELECT alias, model_id, actor FROM alias_moves WHERE model_id = 'mdl_s1'`);
    expect(moves.rows).toEqual([{ alias: "prod", model_id: "mdl_s1", actor: "slack:ada" }]);

    // Slack retries a slow answer with the same body: same message id, and the review stays resolved once.
    const again = await post(body, signed(body));
    expect(again.status).toBe(200);
    expect(commands()[1]!.id).toBe(published.id);
    await deliver(commands()[1]!);
    expect((await t.db.query(`SELECT 1 FROM alias_moves WHERE model_id = 'mdl_s1'`)).rows).toHaveLength(1);
  });

  it("turns a signed Reject click into reject, which records the decision and moves nothing", async () => {
    await seedPendingReview("eval_s2", "mdl_s2", "run_s2");
    const body = clickBody(SLACK_ACTION_IDS.reject, "eval_s2", { id: "U9", username: "grace" });
    const res = await post(body, signed(body));
    expect(res.status).toBe(200);
    const published = commands().at(-1)!;
    expect(published.data).toMatchObject({ name: "reject", actor: "slack:grace", evaluationId: "eval_s2" });
    await deliver(published);
    const decisions = await t.db.query<{ outcome: string; actor: string }>(`SELECT outcome, actor FROM promotion_decisions WHERE evaluation_id = 'eval_s2' ORDER BY created_at`);
    expect(decisions.rows.map((r) => r.outcome)).toEqual(["review", "rejected"]);
    expect(decisions.rows[1]!.actor).toBe("slack:grace");
    expect((await t.db.query(`SELECT 1 FROM alias_moves WHERE model_id = 'mdl_s2'`)).rows).toHaveLength(0);
  });

  it("answers 401 and publishes nothing for an unsigned, stale, forged or tampered request", async () => {
    await seedPendingReview("eval_s3", "mdl_s3", "run_s3");
    const before = t.published.length;
    const body = clickBody(SLACK_ACTION_IDS.approve, "eval_s3");
    const now = Math.floor(Date.now() / 1000);
    const cases: [string, string, Record<string, string>][] = [
      ["unsigned", body, {}],
      ["no timestamp", body, { "x-slack-signature": signed(body)["x-slack-signature"]! }],
      ["stale (6 minutes old)", body, signed(body, now - 6 * 60)],
      ["from the future (6 minutes ahead)", body, signed(body, now + 6 * 60)],
      ["signed with another secret", body, signed(body, now, "another-secret")],
      ["body changed after signing", clickBody(SLACK_ACTION_IDS.approve, "eval_other"), signed(body, now)],
      ["signature of another length", body, { ...signed(body, now), "x-slack-signature": "v0=abc" }],
      ["timestamp not a number", body, { ...signed(body, now), "x-slack-request-timestamp": "soon" }],
    ];
    for (const [name, sent, headers] of cases) {
      const res = await post(sent, headers);
      expect(res.status, name).toBe(401);
      expect(await res.text(), name).not.toContain(SECRET);
    }
    expect(t.published.length).toBe(before);
    const decisions = await t.db.query<{ outcome: string }>(`SELECT outcome FROM promotion_decisions WHERE evaluation_id = 'eval_s3'`);
    expect(decisions.rows.map((r) => r.outcome)).toEqual(["review"]);
    expect(JSON.stringify(t.logs)).not.toContain(SECRET);
  });

  it("accepts a request signed 4 minutes ago (inside Slack's 5-minute window)", async () => {
    const body = clickBody(SLACK_ACTION_IDS.reject, "eval_window");
    const before = commands().length;
    const res = await post(body, signed(body, Math.floor(Date.now() / 1000) - 4 * 60));
    expect(res.status).toBe(200);
    expect(commands()).toHaveLength(before + 1);
  });

  it("acknowledges signed interactions it does not handle without publishing", async () => {
    const before = t.published.length;
    const other = new URLSearchParams({ payload: JSON.stringify({ type: "view_submission", user: { id: "U1" } }) }).toString();
    expect((await post(other, signed(other))).status).toBe(200);
    const unknownButton = clickBody("something_else", "eval_s1");
    expect((await post(unknownButton, signed(unknownButton))).status).toBe(200);
    expect(t.published.length).toBe(before);
  });

  it("refuses other methods", async () => {
    expect((await fetch(`${t.url}/`)).status).toBe(405);
  });
});
