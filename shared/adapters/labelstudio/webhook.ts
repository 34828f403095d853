import { createHash, timingSafeEqual } from "node:crypto";
import { buildEnvelope } from "../../messages/build.ts";
import type { Deps } from "../../ports.ts";
import { describeError } from "../../errors.ts";

/**
 * The `labelstudio-webhook` function's work. Label Studio sends webhooks without a signature, once,
 * with a 1 s timeout and no retry (labelstud.io/guide/webhooks; label_studio/webhooks/utils.py
 * run_webhook); the only way to authenticate them is a header it is told to send (the webhook's
 * `headers`). So: a shared secret in a configurable header, compared in constant time; and the
 * body is not trusted — a valid call only publishes the same `poll` command `mlops command poll`
 * publishes, and the poll re-reads everything from the API. Losing a webhook costs nothing but
 * latency: the scheduled poll still runs.
 */

export interface WebhookRequest {
  method: string;
  header(name: string): string | undefined;
  /** The body's `action`, when it parsed (logged only). */
  action?: unknown;
}

export interface WebhookResponse {
  status: number;
  body: Record<string, unknown>;
}

export async function handleLabelStudioWebhook(req: WebhookRequest, deps: Pick<Deps, "config" | "publisher" | "ids" | "clock" | "log">): Promise<WebhookResponse> {
  if (req.method !== "POST") return { status: 405, body: { error: "POST only" } };
  const { secret, header } = deps.config.labelStudioWebhook;
  if (!secret) {
    deps.log.error("labelstudio-webhook refused a call: LABEL_STUDIO_WEBHOOK_SECRET is not set");
    return { status: 401, body: { error: "unauthenticated" } };
  }
  if (!sameSecret(req.header(header), secret)) {
    deps.log.warn("labelstudio-webhook refused a call without the shared secret", { header });
    return { status: 401, body: { error: "unauthenticated" } };
  }
  const envelope = buildEnvelope("command", { name: "poll", actor: "labelstudio-webhook" }, { id: deps.ids.next("cmd"), occurredAt: deps.clock.now() });
  try {
    await deps.publisher.publish(envelope);
  } catch (err) {
    deps.log.error("labelstudio-webhook could not publish the poll command", { error: describeError(err) });
    return { status: 503, body: { error: "try again" } };
  }
  deps.log.info("labelstudio-webhook nudged the poll", { action: typeof req.action === "string" ? req.action.slice(0, 60) : null, commandId: envelope.id });
  return { status: 202, body: { nudged: true } };
}

/** Constant-time: both sides hashed to equal length first, so neither length nor content leaks. */
function sameSecret(given: string | undefined, secret: string): boolean {
  if (given === undefined) return false;
  const a = createHash("sha256").update(given, "utf8").digest();
  const b = createHash("sha256").update(secret, "utf8").digest();
  return timingSafeEqual(a, b);
}
