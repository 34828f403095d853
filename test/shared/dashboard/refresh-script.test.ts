/**
 * The inline refresh script, run against a hand-made stand-in for the few browser APIs it touches
 * (no DOM library is installed). It checks the behaviour that makes the live page robust: swap
 * <main> on success, keep the old content and back off on failure, skip hidden tabs.
 */
import { describe, expect, it } from "vitest";
import { REFRESH_SCRIPT } from "../../../shared/dashboard/assets.ts";

interface FakeMain {
  id: string;
  replaceWith(next: FakeMain): void;
}

function harness(options: { refreshSeconds: string; responses: (() => Promise<{ ok: boolean; status: number; text: () => Promise<string> }>)[] }) {
  const timers: { fn: () => void; delay: number }[] = [];
  const fetched: { url: string; init: { cache?: string } }[] = [];
  const listeners: Record<string, () => void> = {};
  const status = { textContent: "", className: "refresh" };
  let current: FakeMain;
  const makeMain = (id: string): FakeMain => ({
    id,
    replaceWith(next) {
      current = next;
    },
  });
  current = makeMain("initial");
  const document = {
    visibilityState: "visible",
    body: { getAttribute: (name: string) => (name === "data-refresh-seconds" ? options.refreshSeconds : null) },
    getElementById: (id: string) => (id === "refresh-status" ? status : null),
    querySelector: (selector: string) => (selector === "main" ? current : null),
    importNode: (node: FakeMain) => ({ ...node, id: `imported:${node.id}` }),
    addEventListener: (type: string, fn: () => void) => (listeners[type] = fn),
  };
  class DOMParser {
    parseFromString(text: string) {
      return { querySelector: (selector: string) => (selector === "main" && text.startsWith("<main") ? makeMain(text) : null) };
    }
  }
  const fetch = (url: string, init: { cache?: string }) => {
    fetched.push({ url, init });
    const next = options.responses.shift();
    return next ? next() : Promise.reject(new Error("no response scripted"));
  };
  const window = { fetch, DOMParser, location: { href: "http://dash.test/dashboard/" } };
  const run = new Function("window", "document", "fetch", "DOMParser", "setTimeout", "clearTimeout", REFRESH_SCRIPT);
  run(window, document, fetch, DOMParser, (fn: () => void, delay: number) => timers.push({ fn, delay }), () => undefined);
  /** Fires the latest timer and lets the fetch chain settle. */
  const tick = async () => {
    timers[timers.length - 1]!.fn();
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };
  return { timers, fetched, status, listeners, document, tick, main: () => current };
}

const ok = (body: string) => () => Promise.resolve({ ok: true, status: 200, text: () => Promise.resolve(body) });
const httpError = (status: number) => () => Promise.resolve({ ok: false, status, text: () => Promise.resolve("") });

describe("refresh script", () => {
  it("re-fetches the page without caching and swaps in the new <main>", async () => {
    const h = harness({ refreshSeconds: "30", responses: [ok("<main>v2")] });
    expect(h.timers[0]!.delay).toBe(30_000);
    await h.tick();
    expect(h.fetched).toEqual([{ url: "http://dash.test/dashboard/", init: expect.objectContaining({ cache: "no-store" }) }]);
    expect(h.main().id).toBe("imported:<main>v2");
    expect(h.status.textContent).toMatch(/^live, refreshed/);
    expect(h.timers).toHaveLength(2);
    expect(h.timers[1]!.delay).toBe(30_000);
  });

  it("keeps the old content, says so, and backs off while the server fails", async () => {
    const h = harness({ refreshSeconds: "10", responses: [httpError(500), () => Promise.reject(new Error("offline")), ok("<main>back")] });
    await h.tick();
    expect(h.main().id).toBe("initial");
    expect(h.status.textContent).toContain("refresh failed (HTTP 500)");
    expect(h.status.className).toBe("refresh bad");
    expect(h.timers[1]!.delay).toBe(20_000);
    await h.tick();
    expect(h.status.textContent).toContain("offline");
    expect(h.timers[2]!.delay).toBe(40_000);
    await h.tick();
    expect(h.main().id).toBe("imported:<main>back");
    expect(h.timers[3]!.delay).toBe(10_000);
  });

  it("does not replace the page with something that is not the dashboard", async () => {
    const h = harness({ refreshSeconds: "5", responses: [ok("<html>login page</html>")] });
    await h.tick();
    expect(h.main().id).toBe("initial");
    expect(h.status.textContent).toContain("unexpected page");
  });

  it("does not poll from a hidden tab and catches up when it becomes visible", async () => {
    const h = harness({ refreshSeconds: "5", responses: [ok("<main>fresh")] });
    h.document.visibilityState = "hidden";
    await h.tick();
    expect(h.fetched).toHaveLength(0);
    h.document.visibilityState = "visible";
    h.listeners.visibilitychange!();
    for (let i = 0; i < 10; i++) await Promise.resolve();
    expect(h.fetched).toHaveLength(1);
    expect(h.main().id).toBe("imported:<main>fresh");
  });

  it("stays off when refreshing is disabled", () => {
    const h = harness({ refreshSeconds: "0", responses: [] });
    expect(h.timers).toHaveLength(0);
    expect(h.status.textContent).toBe("");
  });
});
