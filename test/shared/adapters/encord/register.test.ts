import { afterEach, describe, expect, it } from "vitest";
import { PermanentError, TransientError } from "../../../../shared/errors.ts";
import { EncordAuthError } from "../../../../shared/adapters/encord/errors.ts";
import type { RegistrationRequest, RegistrationResult } from "../../../../shared/ports.ts";
import { memoryRegistrationLedger } from "../../../../shared/adapters/annotation/memory-ledger.ts";
import { generateTestKey } from "../../../fakes/encord-keys.ts";
import { imageRequest, productRequest, startEncordHarness, type EncordHarness } from "../../../fakes/encord-harness.ts";

let h: EncordHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function harness(options: Parameters<typeof startEncordHarness>[0] = {}): Promise<EncordHarness> {
  h = await startEncordHarness(options);
  return h;
}

const okRefs = (results: RegistrationResult[]) => results.map((r) => (r.ok ? r.backendRef : `FAILED: ${r.error}`));
const linkedItemUuids = (x: EncordHarness) => new Set([...x.fake.state.dataRows.values()].map((r) => r.itemUuid));

describe("Encord register: batching and shapes", () => {
  it("registers 1,001 items with two upload jobs, links them all and attaches the dataset", async () => {
    const x = await harness();
    const items = Array.from({ length: 1001 }, (_, i) => productRequest(i));
    const results = await x.backend().register(items);

    expect(results.every((r) => r.ok)).toBe(true);
    expect(x.fake.state.counters.uploadJobsStarted).toBe(2);
    expect(x.fake.state.counters.itemsCreated).toBe(1001);
    // Each backendRef is the storage item that carries this item's id in its client metadata.
    for (const [i, r] of results.entries()) {
      const stored = x.fake.state.items.get(okRefs([r])[0]!);
      expect(JSON.parse(stored!.clientMetadata)).toEqual({ itemId: items[i]!.itemId, contentSha256: items[i]!.contentSha256 });
    }
    expect(linkedItemUuids(x).size).toBe(1001);
    expect(x.fake.state.projectDatasets.has(x.fake.state.datasetHash)).toBe(true);
    expect(x.fake.state.labelRows.size).toBe(1001);
  });

  it("sends a product as an image group (RGB then NIR) and a plain image as an image", async () => {
    const x = await harness();
    const product = productRequest(1);
    const image = imageRequest(2);
    await x.backend().register([product, image]);

    const [job] = [...x.fake.state.uploadJobs.values()];
    const body = job!.body as { dataItems: Record<string, unknown>; integrationHash: string; ignoreErrors: boolean };
    expect(body.integrationHash).toBe(x.fake.state.integrations[0]!.uuid);
    expect(body.ignoreErrors).toBe(true);
    expect(body.dataItems.skipDuplicateUrls).toBe(true);
    const rgb = product.images.find((i) => i.role === "rgb")!.uri;
    const nir = product.images.find((i) => i.role === "nir")!.uri;
    expect(body.dataItems.imageGroups).toEqual([
      {
        title: product.title,
        images: [{ url: rgb, title: `${product.title}_rgb.png` }, { url: nir, title: `${product.title}_nir.png` }],
        clientMetadata: { itemId: product.itemId, contentSha256: product.contentSha256 },
        createVideo: false,
        externalFileType: "IMG_GROUP",
        clusterByResolution: false,
      },
    ]);
    expect(body.dataItems.images).toEqual([
      { objectUrl: image.images[0]!.uri, title: image.title, clientMetadata: { itemId: image.itemId, contentSha256: image.contentSha256 }, externalFileType: "IMAGE" },
    ]);
    const types = [...x.fake.state.items.values()].map((i) => [i.name, i.itemType]);
    expect(types).toEqual(expect.arrayContaining([[product.title, "imageGroup"], [image.title, "image"]]));
  });

  it("returns one result per request, in order, and registers nothing for an empty batch", async () => {
    const x = await harness();
    expect(await x.backend().register([])).toEqual([]);
    expect(x.fake.state.requests).toHaveLength(0);
    const items = [imageRequest(3), productRequest(4), imageRequest(5)];
    expect((await x.backend().register(items)).map((r) => r.itemId)).toEqual(items.map((i) => i.itemId));
  });
});

describe("Encord register: nothing twice", () => {
  it("a batch registered again starts no job and returns the same storage items", async () => {
    const x = await harness();
    const items = Array.from({ length: 30 }, (_, i) => productRequest(i));
    const first = await x.backend().register(items);
    const again = await x.backend().register(items); // a new instance: no cached state helps
    expect(okRefs(again)).toEqual(okRefs(first));
    expect(x.fake.state.counters.uploadJobsStarted).toBe(1);
    expect(x.fake.state.counters.itemsCreated).toBe(30);
    expect(x.fake.duplicateUrls()).toEqual([]);
    expect(linkedItemUuids(x).size).toBe(30);
  });

  it("a batch whose job outlived a crashed attempt is picked up, not uploaded again", async () => {
    const x = await harness();
    const items = [productRequest(1), productRequest(2), imageRequest(3)];
    // The job is started, then every poll of it fails: the attempt gives up mid-flight.
    x.fake.failNext({ match: (r) => r.method === "GET" && r.path.includes("data-upload-jobs/"), status: 500, times: 1000 });
    await expect(x.backend().register(items)).rejects.toBeInstanceOf(TransientError);
    expect(x.fake.state.counters.uploadJobsStarted).toBe(1);
    expect(linkedItemUuids(x).size).toBe(0);

    x.fake.clearFailures();
    x.fake.settleUploadJobs(); // the job finishes on Encord's side regardless
    const results = await x.backend().register(items);

    expect(results.every((r) => r.ok)).toBe(true);
    expect(x.fake.state.counters.uploadJobsStarted).toBe(1);
    expect(x.fake.state.counters.itemsCreated).toBe(3);
    expect(x.fake.duplicateUrls()).toEqual([]);
    expect(linkedItemUuids(x)).toEqual(new Set(okRefs(results)));
  });

  it("a job that outlives the wait is resumed by the retry, and Encord holds exactly one job", async () => {
    const x = await harness();
    const ledger = memoryRegistrationLedger();
    const items = [productRequest(1), productRequest(2), imageRequest(3)];
    x.fake.holdUploadJobs(); // the job runs longer than any one call waits
    const first = await x.backend({ uploadJobMaxWaitMs: 0 }).register(items, ledger);
    expect(first.map((r) => r.ok || r.permanent)).toEqual([false, false, false]);
    expect((first[0] as { error: string }).error).toMatch(/upload job .* is still running; a later registration resumes it/);
    const [job] = await ledger.open(items.map((i) => i.itemId));
    expect(job).toMatchObject({ jobId: [...x.fake.state.uploadJobs.keys()][0], itemIds: items.map((i) => i.itemId) });

    // The retry (a new backend instance, as a redelivery gets) waits on the same job again.
    const second = await x.backend({ uploadJobMaxWaitMs: 0 }).register(items, ledger);
    expect(second.every((r) => !r.ok && !r.permanent)).toBe(true);
    x.fake.settleUploadJobs();
    const third = await x.backend().register(items, ledger);

    expect(third.every((r) => r.ok)).toBe(true);
    expect(x.fake.state.uploadJobs.size).toBe(1);
    expect(x.fake.state.counters.itemsCreated).toBe(3);
    expect(x.fake.duplicateUrls()).toEqual([]);
    expect(linkedItemUuids(x)).toEqual(new Set(okRefs(third)));
    expect(await ledger.open(items.map((i) => i.itemId))).toEqual([]);
  });

  it("two registrations of the same items at once start one job between them", async () => {
    const x = await harness();
    const ledger = memoryRegistrationLedger();
    const items = Array.from({ length: 4 }, (_, i) => productRequest(i));
    const [a, b] = await Promise.all([x.backend().register(items, ledger), x.backend().register(items, ledger)]);
    expect(x.fake.state.counters.uploadJobsStarted).toBe(1);
    // One of them registered the items; the other found them held (or already there).
    const byItem = items.map((_, i) => [a[i]!, b[i]!]);
    for (const pair of byItem) expect(pair.some((r) => r.ok)).toBe(true);
    expect(x.fake.duplicateUrls()).toEqual([]);
  });

  it("frees the claim when Encord refuses to start the job", async () => {
    const x = await harness();
    const ledger = memoryRegistrationLedger();
    x.fake.failNext({ match: (r) => r.method === "POST" && r.path.endsWith("data-upload-jobs"), status: 400 });
    await expect(x.backend().register([imageRequest(1)], ledger)).rejects.toBeInstanceOf(PermanentError);
    expect(await ledger.open([imageRequest(1).itemId])).toEqual([]);
    expect((await x.backend().register([imageRequest(1)], ledger))[0]!.ok).toBe(true);
  });

  it("registers only the missing part of a partly registered batch", async () => {
    const x = await harness();
    const items = Array.from({ length: 25 }, (_, i) => imageRequest(i));
    await x.backend().register(items.slice(0, 10));
    const results = await x.backend().register(items);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(x.fake.state.counters.uploadJobsStarted).toBe(2);
    expect(x.fake.state.counters.itemsCreated).toBe(25);
    const secondJob = [...x.fake.state.uploadJobs.values()][1]!;
    expect((secondJob.body.dataItems as { images: unknown[] }).images).toHaveLength(15);
  });

  it("does not depend on how Encord's search matches names", async () => {
    const x = await harness();
    const items = [productRequest(1), imageRequest(2)];
    const first = await x.backend().register(items);
    x.fake.state.searchMode = "never"; // every search now finds nothing
    const again = await x.backend().register(items);

    expect(okRefs(again)).toEqual(okRefs(first));
    expect(x.fake.state.counters.foldersCreated).toBe(1);
    // The blind pre-lookup let a second job through; skipDuplicateUrls stopped it creating anything.
    expect(x.fake.state.counters.uploadJobsStarted).toBe(2);
    expect(x.fake.state.counters.duplicatesSkipped).toBe(2);
    expect(x.fake.state.counters.itemsCreated).toBe(2);
    expect(x.fake.duplicateUrls()).toEqual([]);
  });

  it("an item whose URL Encord already holds under another title is reported, not duplicated", async () => {
    const x = await harness();
    const original = productRequest(1);
    await x.backend().register([original]);
    const renamed: RegistrationRequest = { ...original, itemId: "item_other", title: "renamed" };
    const [result] = await x.backend().register([renamed]);
    expect(result).toMatchObject({ ok: false, permanent: true });
    expect((result as { error: string }).error).toMatch(/created no item.*under another title/);
    expect(x.fake.state.counters.duplicatesSkipped).toBe(1);
    expect(x.fake.duplicateUrls()).toEqual([]);
  });
});

describe("Encord register: failures", () => {
  it("reports unit errors per item as permanent and links only the others", async () => {
    const x = await harness();
    const good = productRequest(1);
    const bad = productRequest(2);
    x.fake.breakUrl(bad.images.find((i) => i.role === "nir")!.uri, "No such object: annotation/items/S2_00002/S2_00002_nir.png");
    const [ok, failed] = await x.backend().register([good, bad]);
    expect(ok!.ok).toBe(true);
    expect(failed).toMatchObject({ itemId: bad.itemId, ok: false, permanent: true });
    expect((failed as { error: string }).error).toContain("No such object");
    expect(linkedItemUuids(x)).toEqual(new Set(okRefs([ok!])));
  });

  it("refuses items Encord cannot register without calling it", async () => {
    const x = await harness();
    const local: RegistrationRequest = { ...imageRequest(1), images: [{ role: "image", uri: "file:///tmp/a.png", width: 1, height: 1 }] };
    const [result] = await x.backend().register([local]);
    expect(result).toMatchObject({ ok: false, permanent: true });
    expect((result as { error: string }).error).toMatch(/gs:\/\//);
    expect(x.fake.state.counters.uploadJobsStarted).toBe(0);
  });

  it("raises one EncordAuthError when the key is not Encord's, after a single request", async () => {
    const x = await harness({ env: { ENCORD_SSH_KEY: generateTestKey().openssh } });
    const err = await x.backend().register([productRequest(1)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EncordAuthError);
    expect((err as Error).message).toMatch(/registration stopped: the credentials were refused.*SSH key registered/);
    expect(x.fake.state.requests).toHaveLength(1);
  });

  it("names the missing integration and the ones the key can see", async () => {
    const x = await harness({ env: { ENCORD_INTEGRATION: "no-such-integration" } });
    const err = await x.backend().register([productRequest(1)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PermanentError);
    expect((err as Error).message).toBe('Encord cloud integration "no-such-integration" not found (this key sees: "gcs-annotation")');
  });
});

describe("Encord register: folder, integration, dataset", () => {
  it("creates the storage folder once and finds it afterwards", async () => {
    const x = await harness();
    await x.backend().register([imageRequest(1)]);
    await x.backend().register([imageRequest(2)]);
    expect(x.fake.state.counters.foldersCreated).toBe(1);
    const [folder] = [...x.fake.state.folders.values()];
    expect(folder!.name).toBe(x.config.encord.folder);
    expect(new Set([...x.fake.state.items.values()].map((i) => i.folderUuid))).toEqual(new Set([folder!.uuid]));
  });

  it("matches the integration by uuid as well as by title", async () => {
    const integration = { uuid: "6a3f0c1e-0000-4000-8000-000000000001", title: "bucket-a" };
    const x = await harness({ integration, otherIntegrations: [{ uuid: "6a3f0c1e-0000-4000-8000-000000000002", title: "bucket-b" }], env: { ENCORD_INTEGRATION: integration.uuid } });
    await x.backend().register([imageRequest(1)]);
    expect((x.fake.state.uploadJobs.values().next().value!.body as { integrationHash: string }).integrationHash).toBe(integration.uuid);
  });

  it("does not attach a dataset the project already has", async () => {
    const x = await harness({ datasetAttached: true });
    await x.backend().register([imageRequest(1)]);
    expect(x.fake.state.counters.projectDatasetCalls).toBe(0);
  });

  it("tolerates 'already attached' from projectdataset", async () => {
    const x = await harness();
    x.fake.failNext({ match: "projectdataset", v1Code: "RESOURCE_EXISTS_ERROR", v1Payload: "Dataset already attached" });
    const results = await x.backend().register([imageRequest(1)]);
    expect(results[0]!.ok).toBe(true);
  });
});
