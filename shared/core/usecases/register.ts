import { describeError } from "../../errors.ts";
import type { Envelope } from "../../messages/envelope.ts";
import type { Deps, RegistrationRequest } from "../../ports.ts";
import { claimItemsForRegistration, releaseRegistrationClaim, transitionItem, type ItemRow } from "../../db/queries/items.ts";
import { claimInbox } from "../../db/queries/messaging.ts";
import { registrationLedger } from "../../db/queries/registration-jobs.ts";
import { transact } from "../effects.ts";
import type { ConsumerOutcome } from "../consumers.ts";
import { failpoint } from "../failpoints.ts";

/** How long a register invocation may hold its claim on items while it talks to the backend. */
const CLAIM_SECONDS = 600;

/**
 * register: batching without a batcher. Each invocation claims every item waiting for registration
 * (up to the batch size, `FOR UPDATE SKIP LOCKED`) and registers them in one backend call, so a burst
 * of 500 uploads costs a handful of API calls. Claim, call, record: a crash between them leaves a
 * lease that expires, and the backend call is idempotent (duplicates skipped by the backend adapter).
 * A backend that registers through asynchronous jobs (Encord upload jobs) records them in the
 * registration-job ledger, so a retry resumes the job it started instead of starting another;
 * items whose job is still running stay `normalised`, and reconcile's nudge brings them back here.
 */
export async function registerPending(message: Envelope | null, deps: Deps): Promise<ConsumerOutcome> {
  const normalising = message ? await uploadsStillNormalising(deps) : 0;
  if (normalising > 0 && message) {
    // The last upload of a burst to finish (normalised or failed) triggers registration of all.
    // Nothing was done, so there is nothing to record: a redelivery may simply look again.
    return { status: "skipped", detail: `${normalising} upload(s) still normalising; the last one to finish registers the batch` };
  }
  const token = deps.ids.next("claim");
  const claimed = await deps.db.transaction((tx) =>
    claimItemsForRegistration(tx, token, deps.config.annotation.registerBatchSize, CLAIM_SECONDS),
  );
  if (claimed.length === 0) return { status: "skipped", detail: "nothing waiting for registration" };

  const backend = await deps.backend();
  let results;
  try {
    results = await backend.register(claimed.map(toRequest), registrationLedger(deps.db, backend.name, () => deps.ids.next("rjob")));
  } catch (err) {
    // Let another delivery retry soon rather than waiting for the lease to expire.
    await releaseRegistrationClaim(deps.db, token, claimed.map((i) => i.id)).catch(() => undefined);
    throw err;
  }

  failpoint("register.backend_called");
  const byId = new Map(results.map((r) => [r.itemId, r]));
  const registered: string[] = [];
  const failed: { id: string; reason: string }[] = [];
  await transact(deps, message, async (tx, emit) => {
    registered.length = 0;
    failed.length = 0;
    if (message) await claimInbox(tx, "register", message.id);
    for (const item of claimed) {
      const r = byId.get(item.id);
      if (!r) continue; // not answered: the claim is released below and the item retried later
      if (r.ok) {
        const moved = await transitionItem(tx, item.id, ["normalised"], "registered", { backend: backend.name, backend_ref: r.backendRef }, `registered with ${backend.name}`);
        if (moved) registered.push(item.id);
      } else if (r.permanent) {
        const reason = `registration refused by ${backend.name}: ${r.error}`;
        const moved = await transitionItem(tx, item.id, ["normalised"], "failed", { error: reason, error_stage: "register", attempts: item.attempts + 1 }, reason);
        if (moved) {
          failed.push({ id: item.id, reason });
          await emit("item.failed", { itemId: item.id, stage: "register", reason });
        }
      }
    }
    await releaseRegistrationClaim(tx, token, claimed.map((i) => i.id));
    if (registered.length > 0) await emit("items.registered", { backend: backend.name, itemIds: [...registered] });
  });
  const transient = results.filter((r) => !r.ok && !r.permanent);
  if (transient.length > 0) {
    deps.log.warn("some items could not be registered this time; reconcile retries them", {
      count: transient.length,
      first: transient[0] && !transient[0].ok ? describeError(transient[0].error) : undefined,
    });
  }
  deps.log.info("registered batch", { backend: backend.name, claimed: claimed.length, registered: registered.length, failed: failed.length });
  return { status: "done", detail: `${registered.length} registered, ${failed.length} failed` };
}

/**
 * Uploads of a burst normalise over a few seconds. While some are still being normalised (and only
 * for a bounded time, so one stuck upload cannot hold the others back), this delivery leaves the
 * work to the delivery that follows the last of them: every upload ends with `item.normalised` or
 * `item.failed`, and both reach `register`. The burst then reaches the backend as one batch.
 */
async function uploadsStillNormalising(deps: Deps): Promise<number> {
  const windowSeconds = deps.config.annotation.registerBatchWindowSeconds;
  if (windowSeconds <= 0) return 0;
  const { rows } = await deps.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM items WHERE state = 'seen' AND state_changed_at > now() - make_interval(secs => $1)`,
    [windowSeconds],
  );
  return rows[0]?.n ?? 0;
}

function toRequest(item: ItemRow): RegistrationRequest {
  const width = item.width ?? 0;
  const height = item.height ?? 0;
  const images: RegistrationRequest["images"] = [];
  for (const role of ["rgb", "nir", "image"] as const) {
    const asset = item.assets[role];
    if (asset) images.push({ role, uri: asset.uri, width, height });
  }
  return {
    itemId: item.id,
    title: item.title ?? item.product_name ?? item.id,
    kind: item.kind ?? "image",
    contentSha256: item.content_sha256 ?? "",
    images,
  };
}
