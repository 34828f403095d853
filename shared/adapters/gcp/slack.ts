import { WebClient, type ChatPostMessageArguments, type FilesUploadV2Arguments } from "@slack/web-api";
import { describeError } from "../../errors.ts";
import type { Logger, Notification, NotificationAttachment, Notifier, Queryable } from "../../ports.ts";
import { dashboardLink } from "../../dashboard/paths.ts";
import { SLACK_ACTION_IDS } from "./slack-actions.ts";

/** Where each run's Slack thread lives: our thread key → the parent message's `ts`. */
export interface SlackThreadStore {
  get(threadKey: string): Promise<{ channel: string; threadTs: string } | null>;
  /** Keeps the first thread recorded for a key (a concurrent first post loses quietly). */
  set(threadKey: string, channel: string, threadTs: string): Promise<void>;
}

/** Threads in Postgres (`slack_threads`, migration 0003), shared by every function instance. */
export function dbThreadStore(db: Queryable): SlackThreadStore {
  return {
    async get(threadKey) {
      const { rows } = await db.query<{ channel: string; thread_ts: string }>(
        `SELECT channel, thread_ts FROM slack_threads WHERE thread_key = $1`,
        [threadKey],
      );
      const row = rows[0];
      return row ? { channel: row.channel, threadTs: row.thread_ts } : null;
    },
    async set(threadKey, channel, threadTs) {
      await db.query(
        `INSERT INTO slack_threads (thread_key, channel, thread_ts) VALUES ($1, $2, $3) ON CONFLICT (thread_key) DO NOTHING`,
        [threadKey, channel, threadTs],
      );
    },
  };
}

export interface SlackNotifierOptions {
  token: string;
  /** Channel name (`#mlops`) or id; replies and uploads use the id Slack returns. */
  channel: string;
  threads: SlackThreadStore;
  log: Logger;
  /** For tests: a fake Slack API (`https://slack.com/api/` by default). */
  slackApiUrl?: string;
  /** Longest wait before the single retry after a 429 (Slack's Retry-After is capped to this). */
  maxRetryWaitMs?: number;
  /** DASHBOARD_URL: dashboard paths and `gs://` objects become links under it (nobody can click `gs://`). */
  dashboardUrl?: string | undefined;
}

const PREFIX: Record<Notification["severity"], string> = {
  info: ":information_source:",
  warning: ":warning:",
  alert: ":rotating_light:",
};

/**
 * Notifier on Slack. One thread per run: the first message with a `threadKey` starts a thread and
 * its `ts` is stored; later messages with that key reply in it. Attachments (evaluation reports)
 * are uploaded into the thread with `files.uploadV2`.
 *
 * Notifications are best effort: a Slack failure is logged and swallowed, never thrown into the
 * use case whose effect already committed. A 429 or 5xx (or a network error) is retried once; the
 * client's own retry loop is off so one slow Slack cannot hold a function for minutes.
 */
export class SlackNotifier implements Notifier {
  private readonly client: WebClient;
  private readonly options: SlackNotifierOptions;

  constructor(options: SlackNotifierOptions) {
    this.options = options;
    this.client = new WebClient(options.token, {
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: 15_000,
      ...(options.slackApiUrl ? { slackApiUrl: options.slackApiUrl } : {}),
    });
  }

  async post(notification: Notification): Promise<void> {
    try {
      await this.send(notification);
    } catch (err) {
      this.options.log.warn("slack notification failed", { error: describeError(err), title: notification.title, slackError: slackErrorCode(err) });
    }
  }

  private async send(notification: Notification): Promise<void> {
    const { threads } = this.options;
    const thread = notification.threadKey ? await threads.get(notification.threadKey) : null;
    const text = formatMessage(notification, this.options.dashboardUrl);
    const args: ChatPostMessageArguments = {
      channel: thread?.channel ?? this.options.channel,
      text,
      unfurl_links: false,
      ...(notification.review ? { blocks: reviewBlocks(text, notification.review.evaluationId) } : {}),
      ...(thread ? { thread_ts: thread.threadTs } : {}),
    } as ChatPostMessageArguments;
    const posted = await this.withOneRetry(() => this.client.chat.postMessage(args));
    const channelId = posted.channel ?? args.channel;
    const threadTs = thread?.threadTs ?? posted.ts;
    if (notification.threadKey && !thread && posted.ts) await threads.set(notification.threadKey, channelId, posted.ts);

    for (const attachment of notification.attachments ?? []) {
      await this.withOneRetry(() => this.client.files.uploadV2(uploadArgs(attachment, channelId, threadTs)));
    }
  }

  private async withOneRetry<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      const waitMs = this.retryWaitMs(err);
      if (waitMs === null) throw err;
      await new Promise((resolve) => setTimeout(resolve, waitMs));
      return call();
    }
  }

  /** How long to wait before retrying, or null when a retry cannot help (bad token, no channel…). */
  private retryWaitMs(err: unknown): number | null {
    const e = err as { code?: unknown; retryAfter?: unknown; statusCode?: unknown };
    const cap = this.options.maxRetryWaitMs ?? 5_000;
    if (e.code === "slack_webapi_rate_limited_error") {
      const seconds = typeof e.retryAfter === "number" ? e.retryAfter : 1;
      return Math.min(cap, Math.max(0, seconds * 1000));
    }
    if (e.code === "slack_webapi_http_error" && typeof e.statusCode === "number" && e.statusCode >= 500) return Math.min(cap, 500);
    if (e.code === "slack_webapi_request_error") return Math.min(cap, 500);
    return null;
  }
}

/**
 * The message text: severity prefix, bold title, body, then links in Slack's `<url|label>` form.
 * Links that cannot open in a browser (`gs://` without a dashboard, paths without DASHBOARD_URL)
 * are left out.
 */
export function formatMessage(n: Notification, dashboardUrl?: string): string {
  const lines = [`${PREFIX[n.severity]} *${escapeMrkdwn(n.title)}*`, escapeMrkdwn(n.text)];
  const links = (n.links ?? []).flatMap((l) => {
    const url = browserLink(l.url, dashboardUrl);
    return url ? [`<${url}|${escapeMrkdwn(l.label)}>`] : [];
  });
  if (links.length) lines.push(links.join(" · "));
  return lines.filter((l) => l.length > 0).join("\n");
}

/** An http(s) URL a browser can open for a notification link, or null (see dashboardLink). */
export function browserLink(url: string, dashboardUrl: string | undefined): string | null {
  return dashboardLink(url, dashboardUrl);
}

/** A Block Kit block, as JSON (the SDK's block types live in a package we do not depend on). */
type SlackBlock = Record<string, unknown>;

/** The text as a section, then Approve / Reject buttons carrying the evaluation id (handled by slack-actions). */
export function reviewBlocks(text: string, evaluationId: string): SlackBlock[] {
  return [
    { type: "section", text: { type: "mrkdwn", text: text.slice(0, 3000) } },
    {
      type: "actions",
      block_id: "review",
      elements: [
        {
          type: "button", action_id: SLACK_ACTION_IDS.approve, style: "primary", value: evaluationId,
          text: { type: "plain_text", text: "Approve" },
          confirm: {
            title: { type: "plain_text", text: "Approve this model?" },
            text: { type: "mrkdwn", text: `Moves the alias to the candidate of evaluation ${escapeMrkdwn(evaluationId)}.` },
            confirm: { type: "plain_text", text: "Approve" },
            deny: { type: "plain_text", text: "Cancel" },
          },
        },
        { type: "button", action_id: SLACK_ACTION_IDS.reject, style: "danger", value: evaluationId, text: { type: "plain_text", text: "Reject" } },
      ],
    },
  ];
}

/** Slack's three control characters in mrkdwn text (https://api.slack.com/reference/surfaces/formatting#escaping). */
function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function uploadArgs(a: NotificationAttachment, channelId: string, threadTs: string | undefined): FilesUploadV2Arguments {
  const file = typeof a.content === "string" ? Buffer.from(a.content, "utf8") : Buffer.from(a.content.buffer, a.content.byteOffset, a.content.byteLength);
  const common = { channel_id: channelId, file, filename: a.name, title: a.name };
  // The SDK's types pair channel_id with either a thread_ts or none at all.
  return threadTs ? { ...common, thread_ts: threadTs } : common;
}

function slackErrorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; data?: { error?: unknown } };
  if (typeof e.data?.error === "string") return e.data.error;
  return typeof e.code === "string" ? e.code : undefined;
}
