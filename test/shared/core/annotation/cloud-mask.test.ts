import { describe, expect, it } from "vitest";
import { fromEncordLabelRow } from "../../../../shared/core/annotation/encord-label-row.ts";
import { ontologyFromEncord } from "../../../../shared/core/annotation/ontology.ts";
import { semanticMask } from "../../../../shared/core/annotation/rasterise.ts";
import { rasterFromRows } from "./fixtures.ts";

/**
 * The seed's use case end to end in core: cloud bitmasks drawn in Encord become the 8-bit class
 * mask the trainer reads. The rleStrings below were worked out by hand from the pictures.
 */
const CLASSES = ["background", "land", "water", "thick_cloud", "thin_cloud", "cloud_shadow"];
const ontology = ontologyFromEncord(
  {
    objects: [
      { name: "Thick_Cloud", shape: "bitmask", featureNodeHash: "TCK" }, // matched case-insensitively
      { name: "thin_cloud", shape: "bitmask", featureNodeHash: "THN" },
      { name: "cloud_shadow", shape: "bitmask", featureNodeHash: "SHD" },
    ],
  },
  CLASSES,
);

const bitmask = (objectHash: string, featureHash: string, name: string, rleString: string) => ({
  objectHash, featureHash, name, shape: "bitmask", createdBy: "ann@x", createdAt: "2024-01-01 00:00:00",
  bitmask: { top: 0, left: 0, width: 6, height: 4, rleString },
});

describe("8-bit cloud mask from Encord bitmasks", () => {
  it("paints several classes in drawing order and leaves unknown objects out", () => {
    const row = {
      label_hash: "LH-cloud",
      data_type: "image",
      last_edited_at: "Mon, 01 Jan 2024 12:00:00 UTC",
      data_units: {
        U: {
          data_hash: "U", data_sequence: 0, width: 6, height: 4,
          labels: {
            objects: [
              // 110000 / 110000 / 0… → [0,2,4,2,16] → '0','2','4', 2−2=0 → '0', 16−4=12 → '<'
              bitmask("thick", "TCK", "thick_cloud", "0240<"),
              // 011100 / 0… → [1,3,20]; 20 has the sign bit (0x10) set, so it takes two chars: 'd','0'
              bitmask("thin", "THN", "thin_cloud", "13d0"),
              // 000000 / 000000 / 000011 / 000011 → [16,2,4,2] → '`','0' (16, two chars), '2','4', 2−2=0 → '0'
              bitmask("shadow", "SHD", "cloud_shadow", "`0240"),
              // An object from an Encord class we did not map: 18 zeros then 6 ones → [18,6] → 'b','0','6'
              bitmask("snow", "SNOW", "snow", "b06"),
            ],
            classifications: [],
          },
        },
      },
    };
    const result = fromEncordLabelRow(row, { itemId: "scene-1", ontology });
    if (!result.ok) throw new Error(result.error);
    expect(result.annotation.objects.map((o) => [o.id, o.classId])).toEqual([["thick", 3], ["thin", 4], ["shadow", 5], ["snow", null]]);

    // thin_cloud is drawn after thick_cloud, so it wins at (1, 0); snow is not painted.
    expect(semanticMask(result.annotation)).toEqual(rasterFromRows(["344400", "330000", "000055", "000055"]));

    // With nodata on the left column, those pixels become 255 whatever was drawn.
    const ignore = rasterFromRows(["100000", "100000", "100000", "100000"]).map((v) => v * 255);
    const withNodata = semanticMask(result.annotation, { ignore });
    expect(Array.from(withNodata.filter((_, i) => i % 6 === 0))).toEqual([255, 255, 255, 255]);
    expect(withNodata[1]).toBe(4);
  });
});
