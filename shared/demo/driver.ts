import { describeError } from "../errors.ts";
import { ontologyFromNames } from "../core/annotation/ontology.ts";
import { objectUri } from "../core/uri.ts";
import type { ObjectStore, Logger, Db } from "../ports.ts";
import type { Config } from "../config/load.ts";
import { INBOX_PREFIX, TASKS_PREFIX, type InboxTask } from "../adapters/annotation/inbox-backend.ts";
import { pickMistake, simulatedLabelRow } from "./annotators.ts";
import { DEFAULT_DEMO, type DemoOptions } from "./defaults.ts";

export { DEFAULT_DEMO, type DemoOptions };

/** The demo's defaults for the loop itself: small thresholds and quick ticks so it turns in minutes. */
export const DEMO_ENV: Record<string, string> = {
  THRESHOLD_N: "18",
  THRESHOLD_M: "6",
  THRESHOLD_T_HOURS: "0.02",
  EVAL_SPLIT_PERCENT: "25",
  POLL_INTERVAL_SECONDS: "1.5",
  RECONCILE_INTERVAL_SECONDS: "10",
  TRAIN_PARAMS: JSON.stringify({ epochs: 25, samplesPerImage: 3000 }),
};

/**
 * Drives the demo inside the local runtime: uploads generated multispectral products (and a few
 * corrupt files) to the archive folder over time, and plays the annotation team — reading task
 * files, writing Encord label rows into the inbox after a delay, some of them wrong, and
 * correcting rejected ones later. Everything is deterministic per seed, and idempotent across
 * restarts (existing uploads and labels are left alone).
 */
export class DemoDriver {
  private timers: NodeJS.Timeout[] = [];
  private labelled = new Set<string>();
  private corrected = new Set<string>();
  private groundTruth = new Map<string, { width: number; height: number; mask: Uint8Array }>();
  private stopped = false;
  uploaded = 0;
  labels = 0;

  constructor(
    private readonly deps: { store: ObjectStore; db: Db; config: Config; log: Logger; say: (line: string) => void },
    private readonly options: DemoOptions = DEFAULT_DEMO,
  ) {}

  async start(): Promise<void> {
    const { makeDemoProduct, makeCorruptUploads } = await import("../adapters/demo/products.ts");
    const names = Array.from({ length: this.options.products }, (_, i) => `demo-${String(i + 1).padStart(4, "0")}`);
    const corrupt = this.options.corruptUploads ? makeCorruptUploads(this.options.seed) : null;
    const corruptAt = new Map<number, { name: string; bytes: Uint8Array }>(
      corrupt
        ? [
            [1, { name: "corrupt-random-bytes.zip", bytes: corrupt.randomBytesZip }],
            [2, { name: "corrupt-truncated.tif", bytes: corrupt.truncatedTiff }],
            [3, { name: "corrupt-empty.zip", bytes: corrupt.zeroByte }],
          ]
        : [],
    );
    let index = 0;
    const uploadNext = async (): Promise<void> => {
      if (this.stopped || index >= names.length) return;
      const i = index++;
      const name = names[i]!;
      try {
        const product = makeDemoProduct({ seed: this.options.seed * 1000 + i, width: this.options.size, height: this.options.size, name });
        this.groundTruth.set(name, product.groundTruth);
        if (await this.put(`demo/${name}.zip`, product.zip)) this.uploaded++;
        const bad = corruptAt.get(i);
        if (bad && (await this.put(`demo/${bad.name}`, bad.bytes))) this.uploaded++;
        if (corrupt && i === Math.min(4, names.length - 1)) {
          // The same bytes (zips carry timestamps, so not a regenerated one). Whichever of the two is
          // ingested first is the live one; both names map to demo-0001's ground truth.
          const first = await this.deps.store.get(objectUri(this.deps.config.buckets.archive, `demo/${names[0]}.zip`));
          if (await this.put(`demo/${names[0]}-copy.zip`, first)) this.uploaded++;
        }
      } catch (err) {
        this.deps.log.warn("demo upload failed", { error: describeError(err) });
      }
      this.timers.push(setTimeout(() => void uploadNext(), this.options.uploadIntervalMs));
    };
    void uploadNext();
    const tick = () => {
      if (this.stopped) return;
      void this.annotate().finally(() => {
        if (!this.stopped) this.timers.push(setTimeout(tick, 400));
      });
    };
    tick();
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
  }

  /** Writes an upload unless it is already there (a restart must not make new generations). */
  private async put(name: string, bytes: Uint8Array): Promise<boolean> {
    const uri = objectUri(this.deps.config.buckets.archive, name);
    if (await this.deps.store.head(uri)) return false;
    await this.deps.store.put(uri, bytes, { ifAbsent: true });
    return true;
  }

  private async annotate(): Promise<void> {
    const { store, config } = this.deps;
    const bucket = config.buckets.annotation;
    const ontology = ontologyFromNames(config.annotation.ontology);
    try {
      const tasks = await store.list(objectUri(bucket, TASKS_PREFIX));
      for (const t of tasks) {
        const itemId = t.name.slice(TASKS_PREFIX.length).replace(/\.json$/, "");
        if (this.labelled.has(itemId)) continue;
        const task = JSON.parse((await store.get(t.uri)).toString("utf8")) as InboxTask;
        const gt = await this.groundTruthOf(task.title);
        if (!gt) {
          this.labelled.add(itemId); // not a demo product: a person labels it
          continue;
        }
        this.labelled.add(itemId);
        this.later(() => this.writeLabel(task, gt, 1, ontology));
      }
      // The team fixes what quality checks rejected (a second revision of the same label row).
      const rejected = await this.deps.db.query<{ id: string; product_name: string; title: string | null }>(
        `SELECT id, product_name, title FROM items WHERE state = 'rejected' AND product_name LIKE 'demo-%'`,
      );
      for (const r of rejected.rows) {
        if (this.corrected.has(r.id)) continue;
        this.corrected.add(r.id);
        const gt = await this.groundTruthOf(r.product_name);
        if (gt) this.later(() => this.writeLabel({ itemId: r.id, title: r.title ?? r.product_name }, gt, 2, ontology));
      }
    } catch (err) {
      this.deps.log.warn("demo annotators failed", { error: describeError(err) });
    }
  }

  private later(fn: () => Promise<void>): void {
    const [min, max] = this.options.labelDelayMs;
    const delay = min + Math.random() * (max - min);
    this.timers.push(setTimeout(() => void fn().catch((err: unknown) => this.deps.log.warn("demo label failed", { error: describeError(err) })), delay));
  }

  private async writeLabel(task: Pick<InboxTask, "itemId" | "title">, gt: { width: number; height: number; mask: Uint8Array }, revision: number, ontology: ReturnType<typeof ontologyFromNames>): Promise<void> {
    if (this.stopped) return;
    const name = `${INBOX_PREFIX}${task.title}-r${revision}.json`;
    const uri = objectUri(this.deps.config.buckets.annotation, name);
    if (await this.deps.store.head(uri)) return;
    const mistake = revision === 1 ? pickMistake(task.title, revision, this.options.badLabelShare, this.options.seed) : null;
    const row = simulatedLabelRow({
      itemId: task.itemId, title: task.title, groundTruth: gt, ontology, revision,
      annotator: `annotator-${(task.title.charCodeAt(task.title.length - 1) % 3) + 1}@demo.team`, editedAt: new Date(), mistake,
    });
    await this.deps.store.put(uri, JSON.stringify(row), { contentType: "application/json", ifAbsent: true });
    this.labels++;
  }

  private async groundTruthOf(title: string): Promise<{ width: number; height: number; mask: Uint8Array } | null> {
    const known = this.groundTruth.get(title);
    if (known) return known;
    const m = /^demo-(\d{4})(?:-copy)?$/.exec(title);
    if (!m) return null;
    // After a restart the ground truth is regenerated: scenes are deterministic per seed.
    const { makeDemoProduct } = await import("../adapters/demo/products.ts");
    const i = Number(m[1]) - 1;
    const product = makeDemoProduct({ seed: this.options.seed * 1000 + i, width: this.options.size, height: this.options.size, name: title });
    this.groundTruth.set(title, product.groundTruth);
    return product.groundTruth;
  }
}
