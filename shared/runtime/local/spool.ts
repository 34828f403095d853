import { watch, type FSWatcher } from "node:fs";
import { mkdir, readdir, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { describeError } from "../../errors.ts";
import { EnvelopeSchema, type Envelope } from "../../messages/envelope.ts";
import { recordDeadLetter } from "../../db/queries/dead-letters.ts";
import type { Db, Logger, Publisher } from "../../ports.ts";

/**
 * Moves messages that other processes wrote to `<workspace>/spool/` (job child processes, the CLI)
 * into the local delivery table, then deletes the files. Publishing is idempotent by message id, so
 * a crash between the two re-publishes harmlessly. A file that is not a message is moved to
 * `spool/bad/` and recorded as a dead letter.
 */
export class SpoolIngestor {
  private timer: NodeJS.Timeout | null = null;
  private watcher: FSWatcher | null = null;
  private busy = false;
  private again = false;
  private stopped = false;
  readonly dir: string;

  constructor(private readonly options: { workspace: string; publisher: Publisher; db: Db; log: Logger; intervalMs?: number }) {
    this.dir = join(options.workspace, "spool");
  }

  async start(): Promise<void> {
    await mkdir(join(this.dir, "bad"), { recursive: true });
    try {
      this.watcher = watch(this.dir, () => this.kick());
      this.watcher.on("error", () => undefined);
    } catch {
      /* the periodic scan covers it */
    }
    await this.drain();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.watcher?.close();
  }

  kick(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.drain(), 20);
  }

  async drain(): Promise<number> {
    if (this.busy) {
      this.again = true;
      return 0;
    }
    this.busy = true;
    let moved = 0;
    try {
      const files = (await readdir(this.dir)).filter((f) => f.endsWith(".json") && !f.startsWith(".")).sort();
      const good: { file: string; envelope: Envelope }[] = [];
      for (const file of files) {
        const path = join(this.dir, file);
        try {
          const parsed = EnvelopeSchema.safeParse(JSON.parse(await readFile(path, "utf8")));
          if (!parsed.success) throw new Error(parsed.error.issues[0]?.message ?? "not an envelope");
          good.push({ file, envelope: parsed.data as Envelope });
        } catch (err) {
          const reason = `spool file ${file} is not a message: ${describeError(err)}`;
          this.options.log.warn("bad spool file", { file, reason });
          await rename(path, join(this.dir, "bad", file)).catch(() => undefined);
          await recordDeadLetter(this.options.db, { consumer: "spool", messageId: file, reason, payload: null });
        }
      }
      if (good.length > 0) {
        const envelopes = good.map((g) => g.envelope);
        if (this.options.publisher.publishAll) await this.options.publisher.publishAll(envelopes);
        else for (const e of envelopes) await this.options.publisher.publish(e);
        for (const g of good) await unlink(join(this.dir, g.file)).catch(() => undefined);
        moved = good.length;
      }
    } catch (err) {
      this.options.log.warn("spool drain failed", { error: describeError(err) });
    } finally {
      this.busy = false;
      if (!this.stopped) {
        const again = this.again;
        this.again = false;
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => void this.drain(), again ? 20 : (this.options.intervalMs ?? 1000));
      }
    }
    return moved;
  }
}
