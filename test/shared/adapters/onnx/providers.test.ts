import { describe, expect, it } from "vitest";
import { InferenceSession } from "onnxruntime-node";
import { gpuVisible, openWithProviders, selectExecutionProviders } from "../../../../shared/adapters/onnx/providers.ts";
import { loadModel } from "../../../../shared/adapters/onnx/runtime.ts";
import { segmentationLogitsModel } from "../../core/evaluation/onnx-models.ts";

const model = segmentationLogitsModel({ classes: ["a", "b"], weights: [1, 0, 0, 0, 1, 0] });

describe("selectExecutionProviders", () => {
  it("asks for CUDA first only when a GPU is visible (auto)", () => {
    expect(selectExecutionProviders("auto", () => true)).toEqual(["cuda", "cpu"]);
    expect(selectExecutionProviders("auto", () => false)).toEqual(["cpu"]);
  });

  it("takes an explicit list as given and keeps the CPU as the last resort", () => {
    const noProbe = () => {
      throw new Error("an explicit list must not probe for a GPU");
    };
    expect(selectExecutionProviders("cpu", noProbe)).toEqual(["cpu"]);
    expect(selectExecutionProviders("cuda", noProbe)).toEqual(["cuda", "cpu"]);
    expect(selectExecutionProviders("cuda, cpu,cuda", noProbe)).toEqual(["cuda", "cpu"]);
  });
});

describe("gpuVisible", () => {
  it("sees the NVIDIA device node or nvidia-smi on the PATH", () => {
    const files = (present: string[]) => ({ exists: (p: string) => present.includes(p) });
    expect(gpuVisible({ ...files(["/dev/nvidia0"]), path: "/usr/bin" })).toBe(true);
    expect(gpuVisible({ ...files(["/usr/local/nvidia/bin/nvidia-smi"]), path: "/usr/bin:/usr/local/nvidia/bin" })).toBe(true);
    expect(gpuVisible({ ...files(["/usr/bin/node"]), path: "/usr/bin" })).toBe(false);
    expect(gpuVisible({ ...files([]), path: undefined })).toBe(false);
  });
});

describe("openWithProviders", () => {
  it("falls back along the list and says why", async () => {
    const tried: string[][] = [];
    const opened = await openWithProviders(["cuda", "cpu"], async (list) => {
      tried.push(list);
      if (list[0] === "cuda") throw new Error("Failed to load shared library");
      return "session";
    });
    expect(tried).toEqual([["cuda", "cpu"], ["cpu"]]);
    expect(opened).toEqual({ value: "session", provider: "cpu", fallbacks: ["cuda: Failed to load shared library"] });
  });

  it("throws the last provider's error when none works", async () => {
    await expect(openWithProviders(["cuda", "cpu"], async (list) => {
      throw new Error(`broken model on ${list[0]}`);
    })).rejects.toThrow("broken model on cpu");
  });
});

describe("loadModel execution providers", () => {
  it("creates the session with CUDA first when the runtime has CUDA (stubbed onnxruntime)", async () => {
    const requested: string[][] = [];
    // A runtime that reports CUDA available: it accepts the CUDA provider. The session itself is a
    // real CPU session, so the model still runs here.
    const createSession = async (bytes: Uint8Array, options: InferenceSession.SessionOptions) => {
      const providers = (options.executionProviders ?? []).map((p) => (typeof p === "string" ? p : p.name));
      requested.push(providers);
      return InferenceSession.create(bytes, { ...options, executionProviders: providers.filter((p) => p !== "cuda") });
    };
    const runner = await loadModel({ modelBytes: model.bytes, card: model.card, executionProviders: selectExecutionProviders("auto", () => true), createSession });
    try {
      expect(requested[0]).toEqual(["cuda", "cpu"]);
      // The fused-argmax session is created with the providers that worked.
      expect(requested.slice(1)).toEqual([["cuda", "cpu"]]);
      expect(runner.executionProvider).toBe("cuda");
      expect(runner.providerFallbacks).toEqual([]);
      const out = await runner.run(Float32Array.from([1, 5, 2, 4, 3, 0]), [1, 3, 1, 2]);
      expect(Array.from(out.data)).toEqual([1, 0]);
    } finally {
      await runner.release();
    }
  });

  it("falls back to the CPU on this CPU-only onnxruntime build and reports it", async () => {
    const runner = await loadModel({ modelBytes: model.bytes, card: model.card, executionProviders: ["cuda", "cpu"] });
    try {
      expect(runner.executionProvider).toBe("cpu");
      expect(runner.providerFallbacks).toHaveLength(1);
      expect(runner.providerFallbacks[0]).toMatch(/^cuda: /);
      const out = await runner.run(Float32Array.from([1, 5, 2, 4, 3, 0]), [1, 3, 1, 2]);
      expect(Array.from(out.data)).toEqual([1, 0]);
    } finally {
      await runner.release();
    }
  });

  it("uses the CPU alone by default", async () => {
    const requested: string[][] = [];
    const createSession = async (bytes: Uint8Array, options: InferenceSession.SessionOptions) => {
      requested.push((options.executionProviders ?? []).map((p) => (typeof p === "string" ? p : p.name)));
      return InferenceSession.create(bytes, options);
    };
    const runner = await loadModel({ modelBytes: model.bytes, card: model.card, createSession });
    await runner.release();
    expect(requested).toEqual([["cpu"], ["cpu"]]);
    expect(runner.executionProvider).toBe("cpu");
  });
});
