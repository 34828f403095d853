import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Envelope } from "../../messages/envelope.ts";
import type { Publisher } from "../../ports.ts";

/**
 * Publisher for processes that do not own the local database (job child processes, the CLI while
 * `mlops start` runs): each message becomes a file in `<workspace>/spool/`, which the runtime moves
 * into its delivery table. Files are written then renamed, so a reader never sees half of one.
 */
export class SpoolPublisher implements Publisher {
  readonly dir: string;
  constructor(workspace: string) {
    this.dir = join(workspace, "spool");
  }

  async publish(envelope: Envelope): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const safe = envelope.id.replace(/[^A-Za-z0-9._-]/g, "_");
    const tmp = join(this.dir, `.${safe}.${process.pid}.tmp`);
    await writeFile(tmp, JSON.stringify(envelope));
    await rename(tmp, join(this.dir, `${safe}.json`));
  }

  async publishAll(envelopes: readonly Envelope[]): Promise<void> {
    for (const e of envelopes) await this.publish(e);
  }
}
