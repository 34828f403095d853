import { describe, expect, it } from "vitest";
import { classById, classIdOf, ontologyFromEncord, ontologyFromNames } from "../../../../shared/core/annotation/ontology.ts";

const editor = {
  objects: [
    { id: "1", name: "Thick_Cloud", shape: "bitmask", featureNodeHash: "tc/1+" },
    { id: "2", name: "cloud_shadow", shape: "bitmask", featureNodeHash: "sh2" },
    { id: "3", name: "Car", shape: "bounding_box", featureNodeHash: "car3" },
    { id: "4", name: "thick_cloud", shape: "polygon", featureNodeHash: "tcpoly" },
  ],
  classifications: [],
};
const names = ["background", "thick_cloud", "cloud_shadow"];

describe("ontology", () => {
  it("numbers plain names in order", () => {
    expect(ontologyFromNames(names).classes).toEqual([
      { id: 0, name: "background" },
      { id: 1, name: "thick_cloud" },
      { id: 2, name: "cloud_shadow" },
    ]);
  });

  it("refuses duplicate names", () => {
    expect(() => ontologyFromNames(["a", "A"])).toThrow(/twice/);
  });

  it("binds Encord objects by case-insensitive name and leaves foreign objects out", () => {
    const ontology = ontologyFromEncord(editor, names);
    expect(ontology.classes).toEqual([
      { id: 0, name: "background" },
      { id: 1, name: "thick_cloud", featureNodeHash: "tc/1+", shape: "bitmask", alternateFeatureNodeHashes: ["tcpoly"] },
      { id: 2, name: "cloud_shadow", featureNodeHash: "sh2", shape: "bitmask" },
    ]);
    expect(classIdOf(ontology, { featureHash: "car3", name: "Car" })).toBeNull();
  });

  it("accepts the editor ontology as JSON text and rejects garbage", () => {
    expect(ontologyFromEncord(JSON.stringify(editor), names).classes[2]!.featureNodeHash).toBe("sh2");
    expect(() => ontologyFromEncord("{not json", names)).toThrow(/not valid JSON/);
    expect(() => ontologyFromEncord({ objects: [{ name: 3 }] }, names)).toThrow(/editor ontology/);
  });

  it("resolves by feature hash first, by name only for unbound classes", () => {
    const ontology = ontologyFromEncord(editor, names);
    expect(classIdOf(ontology, { featureHash: "tc/1+", name: "renamed in Encord" })).toBe(1);
    expect(classIdOf(ontology, { featureHash: "tcpoly" })).toBe(1);
    // A bound class named with a feature hash we did not map: an Encord object we left out.
    expect(classIdOf(ontology, { featureHash: "other", name: "thick_cloud" })).toBeNull();
    // The unbound background class resolves by name even with a stand-in hash.
    expect(classIdOf(ontology, { featureHash: "class-0", name: "Background" })).toBe(0);
    expect(classIdOf(ontology, { name: "CLOUD_SHADOW" })).toBe(2);
    expect(classIdOf(ontology, { name: "snow" })).toBeNull();
    expect(classIdOf(ontology, {})).toBeNull();
  });

  it("finds classes by id", () => {
    const ontology = ontologyFromNames(names);
    expect(classById(ontology, 2)?.name).toBe("cloud_shadow");
    expect(classById(ontology, 3)).toBeUndefined();
    expect(classById(ontology, null)).toBeUndefined();
  });
});
