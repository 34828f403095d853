import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CheckpointSync } from "../../../functions/jobs/train/checkpoints.ts";
import { LocalObjectStore } from "../../../shared/adapters/store/local.ts";
import type { Logger } from "../../../shared/ports.ts";

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet } as unknown as Logger;

describe("CheckpointSync", () => {
  let root: string;
  let store: LocalObjectStore;
  let dir: string;
  const prefix = "gs://models/runs/run_c/checkpoints/";
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "ckpt-"));
    store = new LocalObjectStore(join(root, "buckets"));
    dir = join(root, "local");
  });
  afterEach(async () => rm(root, { recursive: true, force: true }));

  it("while the trainer runs, uploads a file only once it is unchanged since the previous pass", async () => {
    const sync = new CheckpointSync(store, dir, prefix, quiet);
    await sync.download();
    // A trainer writing in place: the first pass sees it half written.
    await writeFile(join(dir, "model.pt"), "half");
    expect(await sync.upload({ settledOnly: true })).toBe(0);
    await writeFile(join(dir, "model.pt"), "whole checkpoint");
    expect(await sync.upload({ settledOnly: true })).toBe(0);
    expect(await store.head(`${prefix}model.pt`)).toBeNull();
    // Unchanged since the previous pass: settled, uploaded once.
    expect(await sync.upload({ settledOnly: true })).toBe(1);
    expect((await store.get(`${prefix}model.pt`)).toString()).toBe("whole checkpoint");
    expect(await sync.upload({ settledOnly: true })).toBe(0);
  });

  it("once the trainer has stopped, uploads every changed file at once", async () => {
    const sync = new CheckpointSync(store, dir, prefix, quiet);
    await sync.download();
    await writeFile(join(dir, "last.pt"), "saved on SIGTERM");
    await writeFile(join(dir, "model.pt.tmp"), "never uploaded");
    expect(await sync.upload()).toBe(1);
    expect((await store.get(`${prefix}last.pt`)).toString()).toBe("saved on SIGTERM");
    expect(await store.head(`${prefix}model.pt.tmp`)).toBeNull();
  });
});
