import { describe, expect, it } from "vitest";
import { formatAgo, formatDelta, formatMetric, formatUtc, shortId, timeCell } from "../../../shared/dashboard/format.ts";

describe("formatUtc / formatAgo", () => {
  it("formats instants in UTC whatever their offset", () => {
    expect(formatUtc("2026-11-23T15:05:30+01:00")).toBe("2026-11-23 14:05 UTC");
  });

  it("shows an unparseable time as it came", () => {
    expect(formatUtc("yesterday-ish")).toBe("yesterday-ish");
    expect(formatAgo("yesterday-ish", "2026-11-23T14:05:00Z")).toBe("");
  });

  it("measures age against the snapshot time", () => {
    const ref = "2026-11-23T14:05:00Z";
    expect(formatAgo("2026-11-23T14:04:31Z", ref)).toBe("just now");
    expect(formatAgo("2026-11-23T13:20:00Z", ref)).toBe("45 min ago");
    expect(formatAgo("2026-11-22T17:05:00Z", ref)).toBe("21 h ago");
    expect(formatAgo("2026-11-20T14:05:00Z", ref)).toBe("3 d ago");
    expect(formatAgo("2026-11-23T15:00:00Z", ref)).toBe("in the future");
  });

  it("renders a <time> with machine and human forms, or a dash", () => {
    expect(timeCell("2026-11-23T13:20:00Z", "2026-11-23T14:05:00Z").value).toBe(
      '<time datetime="2026-11-23T13:20:00Z" title="45 min ago">2026-11-23 13:20 UTC</time>',
    );
    expect(timeCell(null, "2026-11-23T14:05:00Z").value).toContain("–");
  });
});

describe("shortId", () => {
  it("keeps short ids whole", () => {
    expect(shortId("run_7", 12)).toBe("run_7");
  });

  it("keeps the prefix of content hashes", () => {
    expect(shortId("c5d2e9f6a3b0c7d4e1f8", 12, "prefix")).toBe("c5d2e9f6a3b0");
  });

  it("keeps both ends of other ids so time-ordered ids stay distinguishable", () => {
    // Two ULID-style ids minted in the same minute share their first 10 characters.
    const a = shortId("mdl_01JD7M3N4P5Q6R7S8T9V0W1X2Y", 14);
    const b = shortId("mdl_01JD7M3N4PZZZZZZZZZZZZZAB7", 14);
    // 14 characters: a third (4) from the end, the ellipsis, and 9 from the start.
    expect(a).toBe("mdl_01JD7…1X2Y");
    expect(b).toBe("mdl_01JD7…ZAB7");
    expect(a.length).toBe(14);
  });
});

describe("metric formatting", () => {
  it("shows four decimals and a signed delta", () => {
    expect(formatMetric(0.81234)).toBe("0.8123");
    expect(formatMetric(null)).toBe("–");
    expect(formatMetric(Number.NaN)).toBe("–");
    expect(formatDelta(0.8123, 0.7641)).toBe("+0.0482");
    expect(formatDelta(0.75, 0.8)).toBe("−0.0500");
    expect(formatDelta(0.75, null)).toBe("–");
  });
});
