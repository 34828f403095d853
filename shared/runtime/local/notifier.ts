import { appendFile, mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { dashboardLink } from "../../dashboard/paths.ts";
import type { Notification, Notifier } from "../../ports.ts";

const ICON: Record<Notification["severity"], string> = { info: "•", warning: "!", alert: "✖" };

/** Console + file notifier of the local runtime: one line on stderr, one JSON line in the file. */
export class ConsoleFileNotifier implements Notifier {
  constructor(private readonly options: {
    file: string;
    write?: (line: string) => void;
    quiet?: boolean;
    /** The dashboard's URL once it listens: dashboard paths and `gs://` links are shown under it. */
    dashboardUrl?: () => string | null;
  }) {}

  async post(n: Notification): Promise<void> {
    const base = this.options.dashboardUrl?.() ?? null;
    const links = n.links?.length ? ` (${n.links.map((l) => `${l.label}: ${dashboardLink(l.url, base) ?? l.url}`).join(", ")})` : "";
    const firstLine = n.text.split("\n")[0] ?? "";
    if (!this.options.quiet) (this.options.write ?? ((l) => process.stderr.write(`${l}\n`)))(`${ICON[n.severity]} ${n.title} — ${firstLine}${links}`);
    await mkdir(dirname(this.options.file), { recursive: true });
    await appendFile(
      this.options.file,
      `${JSON.stringify({ time: new Date().toISOString(), severity: n.severity, title: n.title, text: n.text, threadKey: n.threadKey ?? null, links: n.links ?? [] })}\n`,
    );
  }
}

/** Sends to several notifiers; one failing does not stop the others. */
export class FanoutNotifier implements Notifier {
  constructor(private readonly targets: Notifier[]) {}
  async post(n: Notification): Promise<void> {
    const results = await Promise.allSettled(this.targets.map((t) => t.post(n)));
    const failed = results.find((r) => r.status === "rejected");
    if (failed && results.every((r) => r.status === "rejected")) throw (failed as PromiseRejectedResult).reason;
  }
}
