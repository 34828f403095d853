/**
 * The registry (shared/deployables.ts) against the code: what each function's use cases can emit
 * and read, found statically by following its code with the TypeScript checker (./reach.ts).
 * The function tests check the same at run time (test/functions/harness.ts loads only the declared
 * sections and refuses undeclared publishes); this covers the paths they do not exercise.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { sectionOfConfigKey } from "../../shared/config/sections.ts";
import {
  BACKENDS, FUNCTIONS, FUNCTION_NAMES, JOBS, JOB_NAMES, consumedBy, isConsumer, sectionsOf, type Backend, type FunctionName,
} from "../../shared/deployables.ts";
import { validateRegistry } from "../../shared/deployables-schema.ts";
import { MESSAGE_TYPES, SUBSCRIPTIONS } from "../../shared/messages/topics.ts";
import { createReacher, type Reach, type Reacher } from "./reach.ts";

const ROOT = join(import.meta.dirname, "..", "..");
let reacher: Reacher;
let backends: Record<Backend, Reach>;

beforeAll(() => {
  reacher = createReacher();
  backends = {
    local: reacher.exported("shared/adapters/annotation/inbox-backend.ts", "createInboxBackend"),
    encord: reacher.exported("shared/adapters/encord/backend.ts", "createEncordBackend"),
    labelstudio: reacher.exported("shared/adapters/labelstudio/backend.ts", "createLabelStudioBackend"),
  };
}, 300_000);

/** Sections the reached Config keys belong to. */
function sectionsRead(keys: Iterable<string>): string[] {
  return [...new Set([...keys].map((k) => sectionOfConfigKey(k) ?? `unknown Config key ${k}`))].sort();
}

describe("the deployables registry", () => {
  it("is well-formed and names every consumer of SUBSCRIPTIONS as a function", () => {
    expect(() => validateRegistry()).not.toThrow();
    expect(Object.keys(SUBSCRIPTIONS).sort()).toEqual(FUNCTION_NAMES.filter((f) => isConsumer(f)).sort());
  });

  it("lists exactly one function per functions/*.ts, whose entry file passes exactly its heavy loaders", () => {
    for (const name of FUNCTION_NAMES) {
      const text = readFileSync(join(ROOT, "functions", `${name}.ts`), "utf8");
      const loaders = ["normaliser", "codec", "predictor"].filter((l) => new RegExp(`\\b${l}: async \\(\\)`).test(text));
      expect(loaders, `functions/${name}.ts`).toEqual([...FUNCTIONS[name].heavy]);
    }
  });

  describe.each(FUNCTION_NAMES.filter((f) => isConsumer(f)) as FunctionName[])("consumer %s", (name) => {
    let reach: Reach;
    beforeAll(() => {
      reach = reacher.consumer(name);
    });

    it("declares every message type its use cases can emit (and only those)", () => {
      const declared = [...FUNCTIONS[name].publishes].sort();
      // reconcile republishes any unsent outbox row, and command's `replay` any dead-lettered
      // message, so both may publish every type.
      if (name === "reconcile" || name === "command") expect(declared).toEqual([...MESSAGE_TYPES].sort());
      else expect(declared).toEqual([...reach.emits].sort());
      for (const type of reach.emits) expect(MESSAGE_TYPES, `emit("${type}")`).toContain(type);
    });

    it.each(BACKENDS)("declares every config section its use cases read, with the %s backend", (backend) => {
      const read = new Set(reach.configKeys);
      if (reach.backend) for (const key of backends[backend].configKeys) read.add(key);
      const declared = sectionsOf(name, backend);
      for (const section of sectionsRead(read)) expect(declared, `${name} reads config section ${section}`).toContain(section);
    });

    it("bundles the heavy loaders its use cases ask for", () => {
      const asked = (["normaliser", "codec", "predictor"] as const).filter((l) => reach[l]);
      expect([...FUNCTIONS[name].heavy].sort()).toEqual([...asked].sort());
    });

    it("consumes the message types SUBSCRIPTIONS routes to it", () => {
      expect(consumedBy(name).length).toBeGreaterThan(0);
    });
  });

  describe.each(JOB_NAMES)("job %s", (name) => {
    it("declares every message type it publishes and every config section it reads", () => {
      const reach = reacher.job(name);
      expect([...JOBS[name].publishes].sort()).toEqual([...reach.emits].sort());
      const declared = sectionsOf(name, "local");
      for (const section of sectionsRead(reach.configKeys)) expect(declared, `${name} reads config section ${section}`).toContain(section);
    });
  });

  it("finds what it looks for (the analysis itself can fail)", () => {
    const poll = reacher.consumer("poll");
    expect(poll.backend).toBe(true);
    expect(poll.codec).toBe(true);
    expect(poll.emits).toEqual(new Set(["annotations.accepted"]));
    expect(sectionsRead(backends.encord.configKeys)).toContain("encord");
    expect(sectionsRead(reacher.consumer("threshold").configKeys)).toEqual(expect.arrayContaining(["threshold", "training", "policy"]));
  });
});
