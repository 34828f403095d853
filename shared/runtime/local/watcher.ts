import { watch, type FSWatcher } from "node:fs";
import { mkdir, readdir, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { describeError } from "../../errors.ts";
import { buildEnvelope } from "../../messages/build.ts";
import type { Logger, Publisher } from "../../ports.ts";

/**
 * Turns new files in the archive folder into `object.finalized` events — the local stand-in for
 * GCS notifications, so uploads are picked up automatically. The event id is
 * `gcs:<bucket>/<name>#<generation>`, exactly what the cloud path uses, so rescanning after a
 * restart re-publishes nothing (the delivery table ignores known ids) and a file is announced once
 * per generation. A file is announced when its size and mtime stopped changing, so a copy in
 * progress is not ingested half-written.
 */
export class ArchiveWatcher {
  private known = new Map<string, string>();
  private pending = new Map<string, { size: number; mtimeNs: bigint; since: number }>();
  private timer: NodeJS.Timeout | null = null;
  private fsWatcher: FSWatcher | null = null;
  private inFlight: Promise<number> | null = null;
  private stopped = false;

  constructor(
    private readonly options: {
      dir: string;
      bucket: string;
      publisher: Publisher;
      log: Logger;
      intervalMs?: number;
      settleMs?: number;
      now?: () => Date;
      /**
       * Of a page of files, those no item was made from yet. Delivery rows are deleted a day after
       * delivery (retention), so they cannot tell a restarted watcher which files were announced;
       * the items table can.
       */
      unknownOnly?: (files: { name: string; generation: string }[]) => Promise<{ name: string; generation: string }[]>;
    },
  ) {}

  async start(): Promise<void> {
    await mkdir(this.options.dir, { recursive: true });
    try {
      this.fsWatcher = watch(this.options.dir, { recursive: true }, () => this.kick());
      this.fsWatcher.on("error", () => undefined);
    } catch {
      // Some filesystems cannot watch recursively; the periodic scan still finds everything.
    }
    await this.scan();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.fsWatcher?.close();
  }

  /** Scans now (and again shortly, for files still settling). */
  kick(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.scan(), 30);
  }

  /**
   * Scans now. Scans never overlap: a call made while one runs (a timer, a file event, a caller)
   * waits for it and then scans again, so what the caller just wrote is seen when this resolves.
   */
  async scan(): Promise<number> {
    while (this.inFlight) await this.inFlight.catch(() => 0);
    const run = this.scanOnce();
    this.inFlight = run;
    try {
      return await run;
    } finally {
      this.inFlight = null;
    }
  }

  private async scanOnce(): Promise<number> {
    let announced = 0;
    try {
      const settleMs = this.options.settleMs ?? 200;
      const files = await listFiles(this.options.dir);
      const ready: { name: string; generation: string; size: number }[] = [];
      const nowMs = Date.now();
      for (const { path, size, mtimeNs } of files) {
        const name = relative(this.options.dir, path).split(sep).join("/");
        const generation = (mtimeNs / 1000n).toString();
        if (this.known.get(name) === generation) continue;
        const prev = this.pending.get(name);
        const ageMs = nowMs - Number(mtimeNs / 1_000_000n);
        if ((prev && prev.size === size && prev.mtimeNs === mtimeNs && nowMs - prev.since >= settleMs) || ageMs >= settleMs) {
          ready.push({ name, generation, size });
        } else if (!prev || prev.size !== size || prev.mtimeNs !== mtimeNs) {
          this.pending.set(name, { size, mtimeNs, since: nowMs });
        }
      }
      if (ready.length > 0) {
        const occurredAt = (this.options.now ?? (() => new Date()))();
        let fresh: { name: string; generation: string; size?: number }[] = ready;
        if (this.options.unknownOnly) {
          fresh = [];
          for (let i = 0; i < ready.length; i += 1000) fresh.push(...(await this.options.unknownOnly(ready.slice(i, i + 1000))));
        }
        const sizes = new Map(ready.map((f) => [`${f.name}#${f.generation}`, f.size]));
        const envelopes = fresh.map((f) =>
          buildEnvelope(
            "object.finalized",
            { bucket: this.options.bucket, name: f.name, generation: f.generation, size: String(sizes.get(`${f.name}#${f.generation}`)) },
            { id: `gcs:${this.options.bucket}/${f.name}#${f.generation}`, occurredAt },
          ),
        );
        if (envelopes.length === 0) {
          // Everything listed is known already (a restart): nothing to announce.
        } else if (this.options.publisher.publishAll) await this.options.publisher.publishAll(envelopes);
        else for (const e of envelopes) await this.options.publisher.publish(e);
        for (const f of ready) {
          this.known.set(f.name, f.generation);
          this.pending.delete(f.name);
        }
        announced = envelopes.length;
      }
    } catch (err) {
      this.options.log.warn("archive scan failed", { error: describeError(err) });
    } finally {
      if (!this.stopped) {
        const again = this.pending.size > 0;
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.scan(), again ? (this.options.settleMs ?? 200) : (this.options.intervalMs ?? 2000));
      }
    }
    return announced;
  }
}

async function listFiles(dir: string): Promise<{ path: string; size: number; mtimeNs: bigint }[]> {
  const out: { path: string; size: number; mtimeNs: bigint }[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.name.startsWith(".") || e.name.endsWith(".part")) continue;
      const full = join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile()) {
        const s = await stat(full, { bigint: true }).catch(() => null);
        if (s) out.push({ path: full, size: Number(s.size), mtimeNs: s.mtimeNs });
      }
    }
  };
  await walk(dir);
  return out;
}
