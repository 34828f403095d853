import { describe, expect, it } from "vitest";
import { CloudIntegrationsSchema, LabelRowMetadataSchema, StorageItemSchema, UploadJobStateSchema } from "../../../../shared/adapters/encord/schemas.ts";
import { encordTimeOf, normaliseEncordTime } from "../../../../shared/adapters/encord/time.ts";

describe("response schemas accept both casings (docs/encord.md §3.1)", () => {
  it("reads v2 camelCase and snake_case alike", () => {
    const camel = CloudIntegrationsSchema.parse({ result: [{ integrationUuid: "u1", title: "a" }] });
    const snake = CloudIntegrationsSchema.parse({ result: [{ integration_uuid: "u1", title: "a" }] });
    expect(snake).toEqual(camel);
  });

  it("reads an upload job state in snake_case, defaulting absent lists", () => {
    const state = UploadJobStateSchema.parse({ status: "DONE", items_with_names: [{ item_uuid: "i1", name: "n" }], unit_errors: null });
    expect(state.itemsWithNames).toEqual([{ itemUuid: "i1", name: "n" }]);
    expect(state.unitErrors).toEqual([]);
    expect(state.errors).toEqual([]);
  });

  it("rejects an upload job status Encord does not define", () => {
    expect(UploadJobStateSchema.safeParse({ status: "RUNNING" }).success).toBe(false);
  });

  it("reads v1 label-row metadata sent in camelCase", () => {
    const row = LabelRowMetadataSchema.parse({ labelHash: "l1", dataHash: "d1", lastEditedAt: "2024-01-01T00:00:00", clientMetadata: { itemId: "item_1" } });
    expect(row).toMatchObject({ label_hash: "l1", data_hash: "d1", last_edited_at: "2024-01-01T00:00:00", client_metadata: { itemId: "item_1" } });
  });

  it("parses storage-item client metadata from its JSON string, tolerating junk", () => {
    expect(StorageItemSchema.parse({ uuid: "u", name: "n", clientMetadata: '{"itemId":"x"}' }).clientMetadata).toEqual({ itemId: "x" });
    expect(StorageItemSchema.parse({ uuid: "u", name: "n", clientMetadata: "not json" }).clientMetadata).toEqual({});
  });
});

describe("normaliseEncordTime", () => {
  it.each([
    ["2023-03-21T09:58:08.472959", "2023-03-21T09:58:08.472959+00:00"], // zoneless = UTC, microseconds kept
    ["2023-03-21T09:58:08", "2023-03-21T09:58:08.000000+00:00"],
    ["2023-03-21 09:58:08", "2023-03-21T09:58:08.000000+00:00"],
    ["2023-03-21T09:58:08.5Z", "2023-03-21T09:58:08.500000+00:00"],
    ["2023-03-21T11:58:08.472959+02:00", "2023-03-21T09:58:08.472959+00:00"],
    ["2023-03-21T04:58:08-0500", "2023-03-21T09:58:08.000000+00:00"],
    ["Thu, 09 Feb 2023 14:12:03 UTC", "2023-02-09T14:12:03.000000+00:00"],
    ["Thu, 09 Feb 2023 14:12:03 GMT", "2023-02-09T14:12:03.000000+00:00"],
  ])("%s → %s", (input, expected) => {
    expect(normaliseEncordTime(input)).toBe(expected);
  });

  it("returns null for text that is not a time", () => {
    expect(normaliseEncordTime("yesterday")).toBeNull();
    expect(normaliseEncordTime("")).toBeNull();
  });

  it("orders normalised strings as time orders them", () => {
    const times = ["2024-01-01T00:00:00.000002", "2023-12-31T23:59:59.999999+00:00", "2024-01-01T01:00:00.000001+01:00"].map((t) => normaliseEncordTime(t)!);
    expect([...times].sort()).toEqual([times[1], times[2], times[0]]);
  });

  it("writes a Date with millisecond precision padded to microseconds", () => {
    expect(encordTimeOf(new Date("2024-05-01T12:00:00.123Z"))).toBe("2024-05-01T12:00:00.123000+00:00");
  });
});
