import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { memoryLogger } from "../../../../shared/adapters/basics.ts";
import { SlackNotifier, dbThreadStore, formatMessage } from "../../../../shared/adapters/gcp/slack.ts";
import type { Db } from "../../../../shared/ports.ts";
import { createTestDb } from "../../../helpers/db.ts";

interface SlackCall {
  method: string;
  params: Record<string, string>;
  authorization: string | undefined;
}

/**
 * A fake Slack Web API: chat.postMessage, and the three steps of files.uploadV2
 * (files.getUploadURLExternal → POST to the upload URL → files.completeUploadExternal).
 * `script` queues special answers per method (a 429 with Retry-After, a 500, a platform error).
 */
class FakeSlack {
  readonly calls: SlackCall[] = [];
  readonly uploads: { fileId: string; bytes: Buffer }[] = [];
  readonly script = new Map<string, ({ status: number; headers?: Record<string, string>; body: unknown })[]>();
  private server: Server | null = null;
  private ts = 1_700_000_000;
  url = "";

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      void this.handle(req).then(({ status, headers, body }) => {
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/api/`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server!.close(() => r()));
  }

  reset(): void {
    this.calls.length = 0;
    this.uploads.length = 0;
    this.script.clear();
  }

  private async handle(req: IncomingMessage): Promise<{ status: number; headers?: Record<string, string>; body: unknown }> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const path = new URL(req.url ?? "/", "http://x").pathname;
    if (path.startsWith("/upload/")) {
      this.uploads.push({ fileId: path.slice("/upload/".length), bytes: raw });
      return { status: 200, body: "OK" };
    }
    const method = path.replace(/^\/api\//, "");
    const type = req.headers["content-type"] ?? "";
    const params = type.includes("json") ? (JSON.parse(raw.toString()) as Record<string, string>) : Object.fromEntries(new URLSearchParams(raw.toString()));
    this.calls.push({ method, params, authorization: req.headers.authorization });
    const scripted = this.script.get(method)?.shift();
    if (scripted) return scripted;
    switch (method) {
      case "chat.postMessage":
        return { status: 200, body: { ok: true, channel: "C0CHANNEL", ts: `${++this.ts}.000100`, message: { text: params.text } } };
      case "files.getUploadURLExternal": {
        const fileId = `F${this.calls.length}`;
        return { status: 200, body: { ok: true, file_id: fileId, upload_url: `${this.url.replace(/\/api\/$/, "")}/upload/${fileId}` } };
      }
      case "files.completeUploadExternal":
        return { status: 200, body: { ok: true, files: JSON.parse(params.files ?? "[]") } };
      default:
        return { status: 200, body: { ok: false, error: "unknown_method" } };
    }
  }
}

const slack = new FakeSlack();
let db: Db;
// A throwaway token generated here; never a real credential.
const token = `xoxb-test-${randomBytes(8).toString("hex")}`;

beforeAll(async () => {
  await slack.start();
  db = await createTestDb();
});

afterAll(async () => {
  await slack.stop();
  await db.close();
});

beforeEach(() => slack.reset());

function notifier(log = memoryLogger()) {
  return { log, slack: new SlackNotifier({ token, channel: "#mlops", threads: dbThreadStore(db), log, slackApiUrl: slack.url, maxRetryWaitMs: 20 }) };
}

describe("SlackNotifier", () => {
  it("starts one thread per threadKey and replies in it", async () => {
    const { slack: n } = notifier();
    await n.post({ severity: "info", threadKey: "run:r1", title: "Training r1 started", text: "dataset v1" });
    await n.post({ severity: "alert", threadKey: "run:r1", title: "Training r1 failed", text: "oom" });
    await n.post({ severity: "info", threadKey: "run:r2", title: "Training r2 started", text: "dataset v2" });
    const posts = slack.calls.filter((c) => c.method === "chat.postMessage");
    expect(posts).toHaveLength(3);
    expect(posts[0]!.params.channel).toBe("#mlops");
    expect(posts[0]!.params.thread_ts).toBeUndefined();
    const { rows } = await db.query<{ thread_key: string; channel: string; thread_ts: string }>(
      `SELECT thread_key, channel, thread_ts FROM slack_threads ORDER BY thread_key`,
    );
    expect(rows.map((r) => r.thread_key)).toEqual(["run:r1", "run:r2"]);
    // The reply goes to the channel id Slack returned, in the first message's thread.
    expect(posts[1]!.params.channel).toBe("C0CHANNEL");
    expect(posts[1]!.params.thread_ts).toBe(rows[0]!.thread_ts);
    expect(posts[2]!.params.thread_ts).toBeUndefined();
    expect(posts[0]!.authorization).toBe(`Bearer ${token}`);
  });

  it("formats severity, bold title, escaped text and links", () => {
    expect(formatMessage({ severity: "alert", title: "Model m1 refused", text: "mIoU < 0.5 & falling", links: [{ label: "report", url: "https://x/r.html" }] })).toBe(
      ":rotating_light: *Model m1 refused*\nmIoU &lt; 0.5 &amp; falling\n<https://x/r.html|report>",
    );
    expect(formatMessage({ severity: "warning", title: "t", text: "" })).toBe(":warning: *t*");
  });

  it("points links at the dashboard (DASHBOARD_URL), never at gs://", () => {
    const n = { severity: "info" as const, title: "t", text: "x", links: [
      { label: "evaluation", url: "/evaluations/eval_1" },
      { label: "report", url: "gs://models/default/evaluations/eval 1/summary.html" },
      { label: "elsewhere", url: "https://example.com/a" },
    ] };
    expect(formatMessage(n, "https://dash.example.com/")).toBe(
      ":information_source: *t*\nx\n<https://dash.example.com/evaluations/eval_1|evaluation> · "
      + "<https://dash.example.com/objects/models/default/evaluations/eval%201/summary.html|report> · <https://example.com/a|elsewhere>",
    );
    // Without a dashboard there is nothing a browser could open for gs:// or a path: left out.
    const text = formatMessage(n);
    expect(text).not.toContain("gs://");
    expect(text).toBe(":information_source: *t*\nx\n<https://example.com/a|elsewhere>");
  });

  it("puts Approve and Reject buttons carrying the evaluation id on a review message", async () => {
    const log = memoryLogger();
    const n = new SlackNotifier({ token, channel: "#mlops", threads: dbThreadStore(db), log, slackApiUrl: slack.url, dashboardUrl: "https://dash.example.com" });
    await n.post({ severity: "warning", threadKey: "eval:e9", title: "Review needed for prod: m9", text: "mIoU 0.8", review: { evaluationId: "e9" }, links: [{ label: "evaluation", url: "/evaluations/e9" }] });
    const post = slack.calls.find((c) => c.method === "chat.postMessage")!;
    const blocks = JSON.parse(post.params.blocks as unknown as string) as { type: string; text?: { text: string }; elements?: { action_id: string; value: string; style: string }[] }[];
    expect(blocks.map((b) => b.type)).toEqual(["section", "actions"]);
    expect(blocks[0]!.text!.text).toContain("<https://dash.example.com/evaluations/e9|evaluation>");
    expect(blocks[1]!.elements!.map((e) => [e.action_id, e.value, e.style])).toEqual([["mlops_approve", "e9", "primary"], ["mlops_reject", "e9", "danger"]]);
    // The plain text stays as the notification fallback.
    expect(post.params.text).toContain("Review needed for prod: m9");
    expect(log.entries.filter((e) => e.level === "warn")).toEqual([]);
  });

  it("uploads attachments into the thread with files.uploadV2", async () => {
    const { slack: n } = notifier();
    await n.post({ severity: "info", threadKey: "eval:e1", title: "Evaluation e1", text: "done", attachments: [{ name: "report.json", contentType: "application/json", content: '{"miou":0.71}' }] });
    const methods = slack.calls.map((c) => c.method);
    expect(methods).toEqual(["chat.postMessage", "files.getUploadURLExternal", "files.completeUploadExternal"]);
    expect(slack.uploads).toHaveLength(1);
    expect(slack.uploads[0]!.bytes.toString()).toContain('{"miou":0.71}');
    const complete = slack.calls[2]!.params;
    expect(complete.channel_id).toBe("C0CHANNEL");
    const { rows } = await db.query<{ thread_ts: string }>(`SELECT thread_ts FROM slack_threads WHERE thread_key = 'eval:e1'`);
    expect(complete.thread_ts).toBe(rows[0]!.thread_ts);
  });

  it("retries once after a 429, honouring a (capped) Retry-After", async () => {
    slack.script.set("chat.postMessage", [{ status: 429, headers: { "retry-after": "1" }, body: { ok: false, error: "ratelimited" } }]);
    const { slack: n, log } = notifier();
    await n.post({ severity: "info", title: "hello", text: "world" });
    expect(slack.calls.filter((c) => c.method === "chat.postMessage")).toHaveLength(2);
    expect(log.entries.filter((e) => e.level === "warn")).toHaveLength(0);
  });

  it("gives up after the one retry on repeated 5xx: logged, never thrown", async () => {
    const boom = { status: 503, body: { ok: false, error: "service_unavailable" } };
    slack.script.set("chat.postMessage", [boom, boom, boom]);
    const { slack: n, log } = notifier();
    await expect(n.post({ severity: "alert", title: "t", text: "x" })).resolves.toBeUndefined();
    expect(slack.calls.filter((c) => c.method === "chat.postMessage")).toHaveLength(2);
    const warning = log.entries.find((e) => e.level === "warn");
    expect(warning?.message).toBe("slack notification failed");
  });

  it("does not retry a platform error, and never logs the token", async () => {
    slack.script.set("chat.postMessage", [{ status: 200, body: { ok: false, error: "channel_not_found" } }]);
    const { slack: n, log } = notifier();
    await n.post({ severity: "info", title: "t", text: "x" });
    expect(slack.calls).toHaveLength(1);
    expect(log.entries[0]?.fields.slackError).toBe("channel_not_found");
    expect(JSON.stringify(log.entries)).not.toContain(token);
  });
});
