import { describe, expect, it } from "vitest";
import { normaliseBasePath, objectPath, parseObjectPath } from "../../../shared/dashboard/paths.ts";

describe("objectPath / parseObjectPath", () => {
  it("round-trips names with spaces, unicode, '#', '?', '%' and nested folders", () => {
    for (const name of ["a/b/c.json", "scenes/S2B 2026#1?.png", "évaluation/rapport 100%.md", "x"]) {
      const uri = `gs://mlops-models/${name}`;
      const path = objectPath("", uri);
      expect(path.startsWith("/objects/mlops-models/")).toBe(true);
      expect(path).not.toMatch(/[ #?]/);
      expect(parseObjectPath(path.slice("/objects/".length))).toEqual({ ok: true, uri });
    }
  });

  it("prefixes the base path", () => {
    expect(objectPath("/dashboard", "gs://b1/x/y.json")).toBe("/dashboard/objects/b1/x/y.json");
  });

  it("rejects names that climb out of the bucket, however they are encoded", () => {
    for (const rest of ["b1/../secret", "b1/a/../../secret", "b1/%2e%2e/secret", "b1/%2E%2E%2Fsecret", "b1/a%2F..%2F..%2Fsecret", "b1/./x", "b1/a//x", "b1/a%5C..%5Cx", "b1/a%00b"]) {
      const result = parseObjectPath(rest);
      expect(result.ok, rest).toBe(false);
    }
  });

  it("rejects malformed escapes, bad bucket names and missing names", () => {
    expect(parseObjectPath("b1/%ZZ")).toEqual({ ok: false, reason: "malformed percent-encoding in object path" });
    expect(parseObjectPath("..%2Fetc/passwd").ok).toBe(false);
    expect(parseObjectPath("Bad_Bucket/x").ok).toBe(false);
    expect(parseObjectPath("b1/").ok).toBe(false);
    expect(parseObjectPath("b1").ok).toBe(false);
  });
});

describe("normaliseBasePath", () => {
  it("accepts the root and /segment paths, dropping a trailing slash", () => {
    expect(normaliseBasePath(undefined)).toBe("");
    expect(normaliseBasePath("/")).toBe("");
    expect(normaliseBasePath("/dashboard/")).toBe("/dashboard");
    expect(normaliseBasePath("/a/b")).toBe("/a/b");
  });

  it("refuses paths that would break links", () => {
    for (const bad of ["dashboard", "/a/../b", '/a"b', "/a b", "//evil"]) expect(() => normaliseBasePath(bad), bad).toThrow(/basePath/);
  });
});
