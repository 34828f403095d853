import { isTransient, TransientError } from "../../errors.ts";
import type { RegistrationRequest, RegistrationResult } from "../../ports.ts";
import { baseName } from "../../core/uri.ts";
import type { CloudIntegration, DataUploadItems } from "./api.ts";
import type { EncordContext } from "./context.ts";
import type { StorageFolder, StorageItem, UploadJobState } from "./schemas.ts";

/**
 * Registration (encord-api.md §4.2, §5): one upload job per batch of ≤ 1,000 items into the
 * configured storage folder, then a link of the new storage items to the dataset.
 *
 * Starting an upload job is not idempotent and has no idempotency token, so a retried batch must
 * not register anything twice. Two guards: before starting a job, items whose title already
 * exists in the folder are taken as registered (their storage item is the backend ref), and the
 * job asks Encord to skip URLs it already has (`skipDuplicateUrls`). Linking skips duplicates too,
 * so a crash anywhere in between is repaired by simply registering the batch again.
 */

export const MAX_ITEMS_PER_JOB = 1000;
/** Up to this many items are looked up one title search each; larger batches list the folder. */
const SEARCH_PER_ITEM_LIMIT = 20;
const JOB_POLL_PAUSE_MS = 1_000;
const JOB_POLL_FAILURE_PAUSE_MS = 10_000;
const JOB_POLL_FAILURES_TOLERATED = 3;

export interface RegisterOptions {
  /** How long to wait for one upload job before giving up with a TransientError. */
  jobMaxWaitMs: number;
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
    for (let i = 0; i < valid.length; i += MAX_ITEMS_PER_JOB) {
      const batch = valid.slice(i, i + MAX_ITEMS_PER_JOB);
      for (const r of await registerBatch(ctx, integration, folder, batch, options)) results.set(r.itemId, r);
    }
    await ctx.ensureDatasetInProject();
  }
  return items.map((item) => results.get(item.itemId)!);
}

function validate(item: RegistrationRequest): string | null {
  if (!item.title.trim()) return "the item has no title";
  if (item.images.length === 0) return "the item has no images to register";
  const bad = item.images.find((img) => !/^gs:\/\/[^/]+\/.+/.test(img.uri));
  if (bad) return `Encord registers gs:// object URLs from the cloud integration; got ${bad.uri}`;
  if (item.kind === "product" && !item.images.some((img) => img.role === "rgb")) return "a product needs an RGB image";
  return null;
}

async function registerBatch(
  ctx: EncordContext, integration: CloudIntegration, folder: StorageFolder, batch: RegistrationRequest[], options: RegisterOptions,
): Promise<RegistrationResult[]> {
  const results: RegistrationResult[] = [];
  const existing = await findExisting(ctx, folder, batch);
  const toUpload = batch.filter((item) => !existing.has(item.itemId));
  for (const [itemId, storageItem] of existing) results.push({ itemId, ok: true, backendRef: storageItem.uuid });
  if (existing.size > 0) ctx.log.info("items already in the Encord folder; not uploading them again", { count: existing.size, folder: folder.name });

  if (toUpload.length > 0) {
    const jobUuid = await ctx.api.startUploadJob(folder.uuid, { dataItems: dataItemsOf(toUpload), integrationHash: integration.uuid, ignoreErrors: true });
    ctx.log.info("Encord upload job started", { jobUuid, items: toUpload.length, folder: folder.name });
    const job = await waitForJob(ctx, folder.uuid, jobUuid, options.jobMaxWaitMs);
    ctx.log.info("Encord upload job finished", { jobUuid, status: job.status, created: job.itemsWithNames.length, unitErrors: job.unitErrors.length });
    results.push(...(await matchJobResults(ctx, folder, toUpload, job)));
  }

  const linked = results.flatMap((r) => (r.ok ? [r.backendRef] : []));
  // Items found in the folder are linked again on purpose: SKIP makes it free, and it repairs a
  // batch that crashed between the upload job and the link.
  if (linked.length > 0) await ctx.api.linkItemsToDataset(ctx.settings.datasetHash, linked);
  return results;
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

async function waitForJob(ctx: EncordContext, folderUuid: string, jobUuid: string, maxWaitMs: number): Promise<UploadJobState> {
  const deadline = ctx.clock.now().getTime() + maxWaitMs;
  let failures = 0;
  for (;;) {
    let state: UploadJobState;
    try {
      state = await ctx.api.getUploadJob(folderUuid, jobUuid);
      failures = 0;
    } catch (err) {
      // The job runs on without us; a few transport failures are worth sitting out (as the SDK does).
      if (!isTransient(err) || ++failures > JOB_POLL_FAILURES_TOLERATED) throw err;
      ctx.log.warn("Encord upload job poll failed; trying again", { jobUuid, failures });
      await ctx.sleep(JOB_POLL_FAILURE_PAUSE_MS);
      continue;
    }
    if (state.status !== "PENDING") return state;
    if (ctx.clock.now().getTime() >= deadline) {
      throw new TransientError(`Encord upload job ${jobUuid} still pending after ${Math.round(maxWaitMs / 1000)} s; a retry will find the items it created`);
    }
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
