/**
 * labelstudio-webhook — HTTP function Label Studio's webhook calls (ANNOTATION_CREATED,
 * ANNOTATION_UPDATED, …). Authenticated by a shared secret header (Label Studio cannot sign); it
 * only publishes the `poll` command, so the poll picks the new annotation up at once instead of at
 * the next scheduled tick. See shared/adapters/labelstudio/webhook.ts and docs/labelstudio.md.
 */
import * as ff from "@google-cloud/functions-framework";
import { gcpDeps } from "../shared/runtime/gcp.ts";

const deps = gcpDeps({}, { service: "labelstudio-webhook" });

ff.http("labelstudio-webhook", async (req, res) => {
  try {
    const [{ handleLabelStudioWebhook }, d] = await Promise.all([import("../shared/adapters/labelstudio/webhook.ts"), deps()]);
    const body = req.body as { action?: unknown } | undefined;
    const out = await handleLabelStudioWebhook({ method: req.method, header: (name) => req.get(name), action: body && typeof body === "object" ? body.action : undefined }, d);
    res.status(out.status).json(out.body);
  } catch (err) {
    // A failed cold start (database unreachable): no details to the caller.
    const [{ createLogger }, { describeError }] = await Promise.all([import("../shared/adapters/log/pino.ts"), import("../shared/errors.ts")]);
    createLogger({ base: { service: "labelstudio-webhook" } }).error("labelstudio-webhook unavailable", { error: describeError(err) });
    if (!res.headersSent) res.status(503).json({ error: "unavailable, try again shortly" });
  }
});
