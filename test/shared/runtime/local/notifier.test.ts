import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConsoleFileNotifier } from "../../../../shared/runtime/local/notifier.ts";

describe("local console notifier", () => {
  it("shows dashboard paths and gs:// links under the dashboard's URL, and keeps them as sent in the file", async () => {
    const lines: string[] = [];
    const file = join(mkdtempSync(join(tmpdir(), "notify-")), "notifications.log");
    let url: string | null = null;
    const n = new ConsoleFileNotifier({ file, write: (l) => lines.push(l), dashboardUrl: () => url });
    const notification = { severity: "warning" as const, title: "Review", text: "x", links: [
      { label: "evaluation", url: "/evaluations/e1" }, { label: "report", url: "gs://models/e1/summary.html" },
    ] };
    await n.post(notification);
    // Before the dashboard listens there is nothing better than the link as sent.
    expect(lines[0]).toContain("evaluation: /evaluations/e1, report: gs://models/e1/summary.html");
    url = "http://127.0.0.1:8080/";
    await n.post(notification);
    expect(lines[1]).toContain("evaluation: http://127.0.0.1:8080/evaluations/e1, report: http://127.0.0.1:8080/objects/models/e1/summary.html");
    const logged = readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { links: unknown });
    expect(logged[1]!.links).toEqual(notification.links);
  });
});
