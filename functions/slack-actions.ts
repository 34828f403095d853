/**
 * slack-actions — HTTP endpoint for Slack's interactivity (the Approve / Reject buttons on review
 * messages). Slack cannot present a Google identity token, so this function is the one deployable
 * reachable without IAM: each request must carry Slack's v0 signature over its raw body (made with
 * SLACK_SIGNING_SECRET, at most five minutes old), else it gets 401 and publishes nothing. A valid
 * click publishes `approve` / `reject <evaluation>` on the commands topic, like `mlops command`.
 */
import * as ff from "@google-cloud/functions-framework";
import { gcpDeps } from "../shared/runtime/gcp.ts";

const deps = gcpDeps({}, { service: "slack-actions" });

ff.http("slack-actions", async (req, res) => {
  if (req.method !== "POST") {
    res.status(405).set("Allow", "POST").type("text/plain").send("method not allowed\n");
    return;
  }
  try {
    const [{ handleSlackAction }, d] = await Promise.all([import("../shared/adapters/gcp/slack-actions.ts"), deps()]);
    // The framework keeps the bytes it parsed: the signature is over exactly those.
    const rawBody = (req as { rawBody?: Buffer }).rawBody;
    const answer = await handleSlackAction(
      { headers: req.headers, rawBody },
      { signingSecret: d.config.slackActions.signingSecret, publisher: d.publisher, clock: d.clock, log: d.log },
    );
    res.status(answer.status).type("text/plain").send(answer.text);
  } catch (err) {
    const [{ createLogger }, { describeError }] = await Promise.all([import("../shared/adapters/log/pino.ts"), import("../shared/errors.ts")]);
    createLogger({ base: { service: "slack-actions" } }).error("slack-actions unavailable", { error: describeError(err) });
    if (!res.headersSent) res.status(503).type("text/plain").send("unavailable, try again shortly\n");
  }
});
