import { mkdir, readdir, stat } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { joinUri } from "../../../shared/core/uri.ts";
import type { Logger, ObjectStore } from "../../../shared/ports.ts";

/**
 * Keeps CHECKPOINT_DIR and `<OUTPUT_PREFIX>checkpoints/` in step, so a run cut off by Cloud Run's
 * one-hour GPU task cap resumes where it stopped. Uploads only files that changed since the last
 * upload, one sync at a time (a periodic tick and a SIGTERM can ask at the same moment), and skip
 * the trainer's half-written temporary files.
 *
 * While the trainer runs (`settledOnly`), a file is uploaded only once it looks the same (size and
 * mtime) as at the previous tick: a trainer that writes its checkpoint in place (`torch.save` to
 * the final name does) is caught mid-write by a tick, and a torn copy in the bucket is what a
 * resumed run would load if the job died before the next tick. Once the trainer has stopped,
 * every changed file goes up.
 */
export class CheckpointSync {
  private readonly uploaded = new Map<string, string>();
  /** Each file's signature at the previous upload pass (settled = unchanged since then). */
  private readonly seen = new Map<string, string>();
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly store: ObjectStore,
    private readonly localDir: string,
    private readonly prefixUri: string,
    private readonly log: Logger,
  ) {
    if (!prefixUri.endsWith("/")) throw new Error(`checkpoint prefix must end with /: ${prefixUri}`);
  }

  /** Downloads every checkpoint file under the prefix; returns how many. */
  async download(): Promise<number> {
    await mkdir(this.localDir, { recursive: true });
    let count = 0;
    for (const info of await this.store.list(this.prefixUri)) {
      const rel = info.uri.slice(this.prefixUri.length);
      const parts = rel.split("/");
      if (!rel || parts.some((p) => p === "" || p === "." || p === "..")) continue;
      const path = join(this.localDir, ...parts);
      await this.store.download(info.uri, path);
      // What we just downloaded is already in the store: do not upload it back unchanged.
      this.uploaded.set(rel, await signature(path));
      count++;
    }
    if (count) this.log.info("checkpoints restored", { prefix: this.prefixUri, files: count });
    return count;
  }

  /**
   * Uploads new or changed files (with `settledOnly`, those unchanged since the previous pass);
   * returns how many. Calls are serialised.
   */
  upload(options: { settledOnly?: boolean } = {}): Promise<number> {
    const run = this.queue.then(() => this.uploadNow(options.settledOnly ?? false));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async uploadNow(settledOnly: boolean): Promise<number> {
    let count = 0;
    for (const path of await listFiles(this.localDir)) {
      const rel = relative(this.localDir, path).split(sep).join("/");
      if (rel.endsWith(".tmp") || rel.endsWith(".part")) continue;
      let sig: string;
      try {
        sig = await signature(path);
      } catch {
        continue; // renamed or removed while we looked
      }
      if (this.uploaded.get(rel) === sig) continue;
      const settled = this.seen.get(rel) === sig;
      this.seen.set(rel, sig);
      if (settledOnly && !settled) continue;
      try {
        await this.store.upload(path, joinUri(this.prefixUri, rel));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw err;
      }
      this.uploaded.set(rel, sig);
      count++;
    }
    if (count) this.log.debug("checkpoints uploaded", { prefix: this.prefixUri, files: count });
    return count;
  }
}

async function signature(path: string): Promise<string> {
  const s = await stat(path);
  return `${s.size}:${s.mtimeMs}`;
}

export async function listFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  const out: string[] = [];
  for (const e of entries) {
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(full)));
    else if (e.isFile()) out.push(full);
  }
  return out.sort();
}
