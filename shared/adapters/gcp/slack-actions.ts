import { createHash } from "node:crypto";
import * as z from "zod";
import { buildEnvelope } from "../../messages/build.ts";
import type { Command } from "../../messages/commands.ts";
import type { Clock, Logger, Publisher } from "../../ports.ts";
import { describeError } from "../../errors.ts";
import { verifySlackSignature } from "./slack-signature.ts";

/**
 * Slack interactivity for review decisions: the Approve and Reject buttons the Slack notifier puts
 * on a review message (action ids below, the evaluation id as value) arrive here as a signed
 * `block_actions` POST and become the same `approve` / `reject` command `mlops command` publishes.
 * Nothing is published unless the signature holds; resolving a review is idempotent, so Slack's
 * own retries (and double clicks) decide nothing twice.
 */
export const SLACK_ACTION_IDS = { approve: "mlops_approve", reject: "mlops_reject" } as const;

const ActionSchema = z.object({
  action_id: z.string(),
  value: z.string().min(1).max(200).optional(),
  action_ts: z.string().optional(),
});

/** The parts of Slack's block_actions payload we read (it carries much more). */
const BlockActionsSchema = z.object({
  type: z.literal("block_actions"),
  user: z.object({ id: z.string().min(1), username: z.string().optional(), name: z.string().optional() }),
  trigger_id: z.string().optional(),
  actions: z.array(ActionSchema).min(1),
});

export interface SlackActionRequest {
  headers: Record<string, string | string[] | undefined>;
  /** The body exactly as sent: the signature covers these bytes, not a re-encoding of them. */
  rawBody: Uint8Array | undefined;
}

export interface SlackActionResponse {
  status: number;
  text: string;
}

export interface SlackActionsOptions {
  /** Unset: every request is refused with 503 (fail closed, and say why in the log). */
  signingSecret: string | undefined;
  publisher: Publisher;
  clock: Clock;
  log: Logger;
}

function header(headers: SlackActionRequest["headers"], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export async function handleSlackAction(req: SlackActionRequest, options: SlackActionsOptions): Promise<SlackActionResponse> {
  const { log } = options;
  if (!options.signingSecret) {
    log.error("slack action refused: SLACK_SIGNING_SECRET is not set");
    return { status: 503, text: "slack actions are not configured" };
  }
  const rawBody = req.rawBody ?? new Uint8Array();
  const check = verifySlackSignature({
    signingSecret: options.signingSecret,
    timestamp: header(req.headers, "x-slack-request-timestamp"),
    signature: header(req.headers, "x-slack-signature"),
    rawBody,
    nowMs: options.clock.now().getTime(),
  });
  if (!check.ok) {
    log.warn("slack action refused", { reason: check.reason });
    return { status: 401, text: "invalid signature" };
  }

  const payloadText = new URLSearchParams(Buffer.from(rawBody).toString("utf8")).get("payload");
  let json: unknown;
  try {
    json = payloadText === null ? null : JSON.parse(payloadText);
  } catch {
    json = null;
  }
  const parsed = BlockActionsSchema.safeParse(json);
  if (!parsed.success) {
    // Signed by Slack but not something we handle (another interaction type): acknowledge it.
    log.info("slack interaction ignored", { type: (json as { type?: unknown } | null)?.type });
    return { status: 200, text: "" };
  }
  const payload = parsed.data;
  const actor = `slack:${payload.user.username ?? payload.user.name ?? payload.user.id}`;
  const commands: Command[] = [];
  for (const action of payload.actions) {
    if (!action.value) continue;
    if (action.action_id === SLACK_ACTION_IDS.approve) commands.push({ name: "approve", actor, evaluationId: action.value });
    else if (action.action_id === SLACK_ACTION_IDS.reject) commands.push({ name: "reject", actor, evaluationId: action.value, reason: `rejected in Slack by ${actor}` });
  }
  if (commands.length === 0) {
    log.info("slack action ignored", { actions: payload.actions.map((a) => a.action_id) });
    return { status: 200, text: "" };
  }
  try {
    for (const command of commands) {
      // Same id for Slack's retries of one click: the command consumer sees one message.
      const key = `${payload.trigger_id ?? ""}|${payload.user.id}|${command.name}|${"evaluationId" in command ? command.evaluationId : ""}|${payload.actions[0]?.action_ts ?? ""}`;
      const id = `cmd_slack_${createHash("sha256").update(key).digest("hex").slice(0, 32)}`;
      await options.publisher.publish(buildEnvelope("command", command, { id, occurredAt: options.clock.now() }));
      log.info("slack action published", { command: command.name, actor, messageId: id });
    }
  } catch (err) {
    log.error("slack action could not be published", { error: describeError(err) });
    return { status: 500, text: "could not record the decision, try again" };
  }
  return { status: 200, text: "" };
}
