import { describeError, isTransient, PermanentError } from "../../errors.ts";
import type { RegistrationJobLedger, RegistrationJobRecord, RegistrationRequest, RegistrationResult } from "../../ports.ts";
import { baseName } from "../../core/uri.ts";
import type { CloudIntegration, DataUploadItems } from "./api.ts";
import type { EncordContext } from "./context.ts";
import type { StorageFolder, StorageItem, UploadJobState } from "./schemas.ts";

/**
 * Registration (docs/encord.md §5): one upload job per batch of ≤ 1,000 items into the
 * configured storage folder, then a link of the new storage items to the dataset.
 *
 * Starting an upload job is not idempotent and has no idempotency token, and a job keeps running on
 * Encord when its client stops waiting (encord/storage.py logs "SDK process can be terminated, this
 * will not affect successful job execution"). So a job is never started blind:
 * - items already in the folder under their title are taken as registered (their storage item is
 *   the backend ref);
 * - the rest are claimed in the ledger before the job starts (an item belongs to one open job), and
 *   the job id is recorded the moment Encord returns it. A retry finds the job in the ledger and
 *   resumes waiting on it; a job that finished after a wait gave up is settled by the next call;
 * - the job still asks Encord to skip URLs the folder already holds (`skipDuplicateUrls`), for
 *   the one window the ledger cannot close: a registration that died between starting a job and
 *   recording its id.
 * Linking skips duplicates too, so a crash anywhere in between is repaired by registering again.
 * A call waits for its jobs at most `jobMaxWaitMs` in all; items of a job still running then come
 * back as non-permanent failures, and the job stays open for the next call.
 */

export const MAX_ITEMS_PER_JOB = 1000;
/** Up to this many items are looked up one title search each; larger batches list the folder. */
const SEARCH_PER_ITEM_LIMIT = 20;
const JOB_POLL_PAUSE_MS = 1_000;
const JOB_POLL_FAILURE_PAUSE_MS = 10_000;
const JOB_POLL_FAILURES_TOLERATED = 3;

/**
 * A claim whose job id was never recorded is taken over after this long: longer than one start
 * call can take (the transport's call budget, 420 s), so a live registration is never overtaken.
 */
export const STALE_CLAIM_SECONDS = 600;

export interface RegisterOptions {
  /** How long one call waits for its upload jobs, all of them together. */
  jobMaxWaitMs: number;
  ledger: RegistrationJobLedger;
}

export async function registerItems(ctx: EncordContext, items: readonly RegistrationRequest[], options: RegisterOptions): Promise<RegistrationResult[]> {
  if (items.length === 0) return [];
  const results = new Map<string, RegistrationResult>();
  const valid: RegistrationRequest[] = [];
  const titles = new Set<string>();
  for (const item of items) {
    const problem = validate(item);
    if (problem) results.set(item.itemId, { itemId: item.itemId, ok: false, error: problem, permanent: true });
    else if (titles.has(item.title)) {
      // Titles map job results back to items, so one title may appear once per batch; the
      // retry finds the first one's storage item by title.
      results.set(item.itemId, { itemId: item.itemId, ok: false, error: `another item titled "${item.title}" is being registered in the same batch`, permanent: false });
    } else {
      titles.add(item.title);
      valid.push(item);
    }
  }
  if (valid.length > 0) {
    const integration = await ctx.integration();
    const folder = await ctx.folder();
    const run: JobRun = { ctx, ledger: options.ledger, deadline: ctx.clock.now().getTime() + options.jobMaxWaitMs };
    const resumed = await resumeOpenJobs(run, folder, valid);
    for (const r of resumed) results.set(r.itemId, r);
    const rest = valid.filter((item) => !results.has(item.itemId));
    for (let i = 0; i < rest.length; i += MAX_ITEMS_PER_JOB) {
      for (const r of await registerBatch(run, integration, folder, rest.slice(i, i + MAX_ITEMS_PER_JOB))) results.set(r.itemId, r);
    }
    await ctx.ensureDatasetInProject();
  }
  return items.map((item) => results.get(item.itemId)!);
}

interface JobRun {
  ctx: EncordContext;
  ledger: RegistrationJobLedger;
  /** When this call stops waiting for upload jobs (epoch ms). */
  deadline: number;
}

/** Jobs an earlier call started for any of these items: wait on them again, never start another. */
async function resumeOpenJobs(run: JobRun, folder: StorageFolder, batch: readonly RegistrationRequest[]): Promise<RegistrationResult[]> {
  const { ctx } = run;
  const byId = new Map(batch.map((item) => [item.itemId, item]));
  const results: RegistrationResult[] = [];
  for (const job of await run.ledger.open([...byId.keys()])) {
    const mine = job.itemIds.flatMap((id) => byId.get(id) ?? []);
    if (job.jobId === null) {
      // Another registration is between claiming and recording its job id; once its claim goes
      // stale, `claim` takes the items over.
      const fresh = ctx.clock.now().getTime() - Date.parse(job.claimedAt) < STALE_CLAIM_SECONDS * 1000;
      if (fresh) for (const item of mine) results.push(pending(item, "another registration is starting an Encord upload job for it"));
      continue;
    }
    const folderUuid = typeof job.detail.folderUuid === "string" ? job.detail.folderUuid : folder.uuid;
    ctx.log.info("resuming an Encord upload job started earlier", { jobUuid: job.jobId, items: mine.length });
    results.push(...(await finishJob(run, { uuid: folderUuid, name: folderUuid === folder.uuid ? folder.name : folderUuid, parent: null }, job, mine)));
  }
  return results;
}

async function registerBatch(run: JobRun, integration: CloudIntegration, folder: StorageFolder, batch: RegistrationRequest[]): Promise<RegistrationResult[]> {
  const { ctx } = run;
  const results: RegistrationResult[] = [];
  const existing = await findExisting(ctx, folder, batch);
  const found: RegistrationResult[] = [...existing].map(([itemId, storageItem]) => ({ itemId, ok: true, backendRef: storageItem.uuid }));
  if (existing.size > 0) ctx.log.info("items already in the Encord folder; not uploading them again", { count: existing.size, folder: folder.name });
  // Items found in the folder are linked again on purpose: SKIP makes it free, and it repairs a
  // batch that crashed between the upload job and the link.
  await link(ctx, found);
  results.push(...found);

  const toUpload = batch.filter((item) => !existing.has(item.itemId));
  if (toUpload.length === 0) return results;
  const claim = await run.ledger.claim(toUpload.map((i) => i.itemId), { folderUuid: folder.uuid }, STALE_CLAIM_SECONDS);
  const claimed = new Set(claim?.itemIds ?? []);
  for (const item of toUpload) if (!claimed.has(item.itemId)) results.push(pending(item, "another registration holds it in an Encord upload job"));
  if (!claim) return results;
  const uploading = toUpload.filter((item) => claimed.has(item.itemId));

  let jobUuid: string;
  try {
    jobUuid = await ctx.api.startUploadJob(folder.uuid, { dataItems: dataItemsOf(uploading), integrationHash: integration.uuid, ignoreErrors: true });
  } catch (err) {
    // Refused: nothing started, the items are free. Otherwise the job may exist: the claim stays
    // until it goes stale, and skipDuplicateUrls covers the takeover.
    if (err instanceof PermanentError) await run.ledger.abandon(claim.id, describeError(err));
    throw err;
  }
  await run.ledger.started(claim.id, jobUuid);
  ctx.log.info("Encord upload job started", { jobUuid, items: uploading.length, folder: folder.name });
  results.push(...(await finishJob(run, folder, { ...claim, jobId: jobUuid }, uploading)));
  return results;
}

/** Waits (until the call's deadline) for a job, then takes its results and settles it. */
async function finishJob(run: JobRun, folder: StorageFolder, job: RegistrationJobRecord, items: readonly RegistrationRequest[]): Promise<RegistrationResult[]> {
  const { ctx } = run;
  const jobUuid = job.jobId!;
  const state = await waitForJob(ctx, folder.uuid, jobUuid, run.deadline);
  if (state.status === "PENDING") {
    ctx.log.warn("Encord upload job still running; a later registration resumes it", { jobUuid, items: items.length });
    return items.map((item) => pending(item, `Encord upload job ${jobUuid} is still running; a later registration resumes it`));
  }
  ctx.log.info("Encord upload job finished", { jobUuid, status: state.status, created: state.itemsWithNames.length, unitErrors: state.unitErrors.length });
  const results = await matchJobResults(ctx, folder, items, state);
  await link(ctx, results);
  const ok = results.filter((r) => r.ok).length;
  await run.ledger.settle(job.id, `${state.status}: ${ok} registered, ${results.length - ok} not`);
  return results;
}

async function link(ctx: EncordContext, results: readonly RegistrationResult[]): Promise<void> {
  const refs = results.flatMap((r) => (r.ok ? [r.backendRef] : []));
  if (refs.length > 0) await ctx.api.linkItemsToDataset(ctx.settings.datasetHash, refs);
}

function pending(item: RegistrationRequest, why: string): RegistrationResult {
  return { itemId: item.itemId, ok: false, error: why, permanent: false };
}

function validate(item: RegistrationRequest): string | null {
  if (!item.title.trim()) return "the item has no title";
  if (item.images.length === 0) return "the item has no images to register";
  const bad = item.images.find((img) => !/^gs:\/\/[^/]+\/.+/.test(img.uri));
  if (bad) return `Encord registers gs:// object URLs from the cloud integration; got ${bad.uri}`;
  if (item.kind === "product" && !item.images.some((img) => img.role === "rgb")) return "a product needs an RGB image";
  return null;
}

function clientMetadataOf(item: RegistrationRequest): Record<string, unknown> {
  return { itemId: item.itemId, contentSha256: item.contentSha256 };
}

const ROLE_ORDER: Record<string, number> = { rgb: 0, nir: 1, image: 2 };

/** Products become image groups (RGB then NIR); plain images become images. */
export function dataItemsOf(items: readonly RegistrationRequest[]): DataUploadItems {
  const images: NonNullable<DataUploadItems["images"]> = [];
  const imageGroups: NonNullable<DataUploadItems["imageGroups"]> = [];
  for (const item of items) {
    if (item.kind === "image") {
      const image = item.images.find((i) => i.role === "image") ?? item.images[0]!;
      images.push({ objectUrl: image.uri, title: item.title, clientMetadata: clientMetadataOf(item), externalFileType: "IMAGE" });
    } else {
      const ordered = [...item.images].sort((a, b) => (ROLE_ORDER[a.role] ?? 9) - (ROLE_ORDER[b.role] ?? 9));
      imageGroups.push({
        title: item.title,
        images: ordered.map((i) => ({ url: i.uri, title: baseName(i.uri) })),
        clientMetadata: clientMetadataOf(item),
        createVideo: false,
        externalFileType: "IMG_GROUP",
        clusterByResolution: false,
      });
    }
  }
  return { ...(images.length ? { images } : {}), ...(imageGroups.length ? { imageGroups } : {}), skipDuplicateUrls: true };
}

function compatibleType(item: RegistrationRequest, storageItem: StorageItem): boolean {
  if (!storageItem.itemType) return true;
  return item.kind === "image" ? storageItem.itemType === "image" : storageItem.itemType !== "image";
}

/** Storage items already in the folder for these items, by exact title (our itemId preferred). */
async function findExisting(
  ctx: EncordContext, folder: StorageFolder, batch: readonly RegistrationRequest[], mode: "auto" | "full-listing" = "auto",
): Promise<Map<string, StorageItem>> {
  const byTitle = new Map<string, StorageItem[]>();
  const add = (si: StorageItem) => byTitle.set(si.name, [...(byTitle.get(si.name) ?? []), si]);
  if (mode === "auto" && batch.length <= SEARCH_PER_ITEM_LIMIT) {
    for (const item of batch) for (const si of await ctx.api.listFolderItems(folder.uuid, item.title)) if (si.name === item.title) add(si);
  } else {
    for (const si of await ctx.api.listFolderItems(folder.uuid)) add(si);
  }
  const found = new Map<string, StorageItem>();
  for (const item of batch) {
    const candidates = (byTitle.get(item.title) ?? []).filter((si) => compatibleType(item, si));
    const match = candidates.find((si) => si.clientMetadata.itemId === item.itemId) ?? candidates[0];
    if (!match) continue;
    if (match.clientMetadata.itemId !== item.itemId) {
      // Same title means same annotation URL: the storage item already shows this content.
      ctx.log.info("reusing an Encord item registered for an earlier upload with the same title", { itemId: item.itemId, title: item.title, storageItem: match.uuid });
    }
    found.set(item.itemId, match);
  }
  return found;
}

/**
 * Long-polls a job until it ends or the deadline passes (then its last, PENDING state). A few
 * transport failures in a row are sat out, as the SDK does (3, 10 s apart: encord/storage.py
 * `_add_data_to_folder_get_result`); the job runs on without us either way.
 */
async function waitForJob(ctx: EncordContext, folderUuid: string, jobUuid: string, deadline: number): Promise<UploadJobState> {
  let failures = 0;
  for (;;) {
    let state: UploadJobState;
    try {
      state = await ctx.api.getUploadJob(folderUuid, jobUuid);
      failures = 0;
    } catch (err) {
      if (!isTransient(err) || ++failures > JOB_POLL_FAILURES_TOLERATED) throw err;
      ctx.log.warn("Encord upload job poll failed; trying again", { jobUuid, failures });
      await ctx.sleep(JOB_POLL_FAILURE_PAUSE_MS);
      continue;
    }
    if (state.status !== "PENDING" || ctx.clock.now().getTime() >= deadline) return state;
    // The server long-polls; this pause only guards against one that answers at once.
    await ctx.sleep(JOB_POLL_PAUSE_MS);
  }
}

async function matchJobResults(ctx: EncordContext, folder: StorageFolder, items: readonly RegistrationRequest[], job: UploadJobState): Promise<RegistrationResult[]> {
  const created = new Map<string, string>();
  for (const { name, itemUuid } of job.itemsWithNames) if (!created.has(name)) created.set(name, itemUuid);
  const unitErrorByUrl = new Map<string, string>();
  for (const unitError of job.unitErrors) for (const url of unitError.objectUrls) unitErrorByUrl.set(url, unitError.error);

  const results: RegistrationResult[] = [];
  const unaccounted: RegistrationRequest[] = [];
  for (const item of items) {
    const uuid = created.get(item.title);
    const unitError = item.images.map((i) => unitErrorByUrl.get(i.uri)).find((e) => e !== undefined);
    if (uuid) results.push({ itemId: item.itemId, ok: true, backendRef: uuid });
    else if (unitError !== undefined) results.push({ itemId: item.itemId, ok: false, error: `Encord could not register "${item.title}": ${unitError}`, permanent: true });
    else unaccounted.push(item);
  }
  if (unaccounted.length === 0) return results;

  if (job.status !== "DONE") {
    const why = `the upload job ended ${job.status}${job.errors[0] ? `: ${job.errors[0]}` : ""}`;
    for (const item of unaccounted) results.push({ itemId: item.itemId, ok: false, error: `Encord did not register "${item.title}": ${why}`, permanent: false });
    return results;
  }
  // Skipped as duplicate URLs: the item exists under our title, though the title search before
  // the job missed it. A full listing does not depend on how Encord's search matches.
  const existing = await findExisting(ctx, folder, unaccounted, "full-listing");
  for (const item of unaccounted) {
    const si = existing.get(item.itemId);
    if (si) results.push({ itemId: item.itemId, ok: true, backendRef: si.uuid });
    else {
      // Retrying cannot help: Encord keeps skipping a URL it holds under another title.
      const why = "the upload job created no item for it; its URL is registered in the folder under another title (rename or remove that item)";
      results.push({ itemId: item.itemId, ok: false, error: `Encord did not register "${item.title}": ${why}`, permanent: true });
    }
  }
  return results;
}
