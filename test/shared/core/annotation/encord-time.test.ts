import { describe, expect, it } from "vitest";
import { formatEncordTimestamp, parseEncordTimestamp } from "../../../../shared/core/annotation/encord-time.ts";

describe("Encord timestamps", () => {
  it.each([
    ["Thu, 09 Feb 2023 14:12:03 UTC", "2023-02-09T14:12:03.000Z"],
    ["Thu, 09 Feb 2023 14:12:03 GMT", "2023-02-09T14:12:03.000Z"],
    ["2023-02-09 14:12:03", "2023-02-09T14:12:03.000Z"],
    ["2023-02-09T14:12:03", "2023-02-09T14:12:03.000Z"],
    ["2023-02-09T14:12:03.123456", "2023-02-09T14:12:03.123Z"],
    ["2023-02-09T14:12:03Z", "2023-02-09T14:12:03.000Z"],
    ["2023-02-09T16:12:03+02:00", "2023-02-09T14:12:03.000Z"],
    ["2023-02-09T09:12:03.5-0500", "2023-02-09T14:12:03.500Z"],
    ["2023-02-10T00:12:03+10:00", "2023-02-09T14:12:03.000Z"],
  ])("reads %s", (text, iso) => {
    expect(parseEncordTimestamp(text)).toBe(iso);
  });

  it.each(["", "yesterday", "2023-02-31 10:00:00", "Thu, 09 Foo 2023 14:12:03 UTC", "2023-02-09T25:00:00Z", "2023-02-09T10:00:00+99:00"])(
    "refuses %j",
    (text) => {
      expect(parseEncordTimestamp(text)).toBeNull();
    },
  );

  it("writes the long form Encord uses", () => {
    // 9 Feb 2023 was a Thursday.
    expect(formatEncordTimestamp("2023-02-09T14:12:03.000Z")).toBe("Thu, 09 Feb 2023 14:12:03 UTC");
    expect(parseEncordTimestamp(formatEncordTimestamp("2024-12-31T23:59:59.000Z"))).toBe("2024-12-31T23:59:59.000Z");
  });
});
