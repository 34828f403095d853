import { describe, expect, it } from "vitest";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { OnnxGraph, attr, decodeOnnxModel, readFloatInitializers } from "../../../../shared/adapters/onnx/onnx-builder.ts";

async function run(bytes: Uint8Array, feeds: Record<string, Tensor>) {
  const session = await InferenceSession.create(bytes);
  try {
    return { session, out: await session.run(feeds) };
  } finally {
    await session.release();
  }
}

describe("OnnxGraph", () => {
  it("Conv 1×1 → Relu → Conv 1×1 matches a hand computation", async () => {
    // 2 input channels → 2 hidden → 1 output, on a 1×2 image.
    const g = new OnnxGraph("mlp");
    g.addInput("input", "float32", ["N", 2, "H", "W"]);
    g.addInitializer("w1", new Float32Array([1, -1, 0.5, 2]), [2, 2, 1, 1]);
    g.addInitializer("b1", new Float32Array([0, -1]), [2]);
    g.addInitializer("w2", new Float32Array([3, -2]), [1, 2, 1, 1]);
    g.addInitializer("b2", new Float32Array([0.25]), [1]);
    g.addNode("Conv", ["input", "w1", "b1"], ["h"]);
    g.addNode("Relu", ["h"], ["hr"]);
    g.addNode("Conv", ["hr", "w2", "b2"], ["out"]);
    g.addOutput("out", "float32", ["N", 1, "H", "W"]);

    // NCHW: channel 0 = [2, 1], channel 1 = [1, 3].
    const input = new Tensor("float32", new Float32Array([2, 1, 1, 3]), [1, 2, 1, 2]);
    const { out } = await run(g.toBytes(), { input });
    // pixel 0: x = (2, 1). h0 = 2 - 1 = 1; h1 = 1 + 2 - 1 = 2. out = 3·1 − 2·2 + 0.25 = −0.75
    // pixel 1: x = (1, 3). h0 = 1 - 3 = −2 → 0; h1 = 0.5 + 6 − 1 = 5.5. out = 0 − 11 + 0.25 = −10.75
    expect(out.out!.dims).toEqual([1, 1, 1, 2]);
    expect(Array.from(out.out!.data as Float32Array)).toEqual([-0.75, -10.75]);
  });

  it("ArgMax over channels returns int64 class ids", async () => {
    const g = new OnnxGraph();
    g.addInput("scores", "float32", ["N", 3, "H", "W"]);
    g.addNode("ArgMax", ["scores"], ["labels"], { axis: 1, keepdims: 0 });
    g.addOutput("labels", "int64", ["N", "H", "W"]);
    // 3 channels × 3 pixels; per pixel the max is at channel 2, 0, 1.
    const data = new Float32Array([
      0, 9, 1, // channel 0
      1, 2, 8, // channel 1
      5, 3, 2, // channel 2
    ]);
    const { out } = await run(g.toBytes(), { scores: new Tensor("float32", data, [1, 3, 1, 3]) });
    expect(out.labels!.type).toBe("int64");
    expect(out.labels!.dims).toEqual([1, 1, 3]);
    expect(Array.from(out.labels!.data as BigInt64Array)).toEqual([2n, 0n, 1n]);
  });

  it("Softmax over axis 1 matches exp / sum", async () => {
    const g = new OnnxGraph();
    g.addInput("x", "float32", ["N", 3]);
    g.addNode("Softmax", ["x"], ["p"], { axis: 1 });
    g.addOutput("p", "float32", ["N", 3]);
    const x = [1, 2, 3, 0, 0, Math.log(2)];
    const { out } = await run(g.toBytes(), { x: new Tensor("float32", new Float32Array(x), [2, 3]) });
    const p = Array.from(out.p!.data as Float32Array);
    const e = Math.E;
    const expected = [1 / (1 + e + e * e), e / (1 + e + e * e), (e * e) / (1 + e + e * e), 0.25, 0.25, 0.5];
    p.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 6));
  });

  it("encodes explicit float attributes and int64 initializers", async () => {
    // LeakyRelu's alpha is a FLOAT attribute: an integral value needs attr.float.
    const g = new OnnxGraph();
    g.addInput("x", "float32", [4]);
    g.addInitializer("shape", new BigInt64Array([2n, 2n]), [2]);
    g.addNode("LeakyRelu", ["x"], ["y"], { alpha: attr.float(2) });
    g.addNode("Reshape", ["y", "shape"], ["z"]);
    g.addOutput("z", "float32", [2, 2]);
    const bytes = g.toBytes();
    const { out } = await run(bytes, { x: new Tensor("float32", new Float32Array([-1, 2, -3, 4]), [4]) });
    expect(out.z!.dims).toEqual([2, 2]);
    expect(Array.from(out.z!.data as Float32Array)).toEqual([-2, 2, -6, 4]);

    const model = decodeOnnxModel(bytes) as {
      irVersion: number;
      producerName: string;
      opsetImport: { version: number }[];
      graph: { node: { opType: string; attribute: { name: string; type: number; f?: number }[] }[] };
    };
    expect(model.irVersion).toBe(8);
    expect(model.producerName).toBe("mlops-loop");
    expect(model.opsetImport[0]!.version).toBe(17);
    const leaky = model.graph.node.find((n) => n.opType === "LeakyRelu")!;
    // AttributeType.FLOAT = 1
    expect(leaky.attribute[0]).toMatchObject({ name: "alpha", type: 1, f: 2 });
  });

  it("declares symbolic and fixed dims the runtime reports back", async () => {
    const g = new OnnxGraph();
    g.addInput("input", "float32", ["batch", 4, 32, "W"]);
    g.addNode("Identity", ["input"], ["output"]);
    g.addOutput("output", "float32", ["batch", 4, 32, "W"]);
    const session = await InferenceSession.create(g.toBytes({ opset: 13, metadata: { trainer: "test" } }));
    const meta = session.inputMetadata[0]!;
    expect(meta.isTensor).toBe(true);
    if (meta.isTensor) expect(meta.shape).toEqual(["batch", 4, 32, "W"]);
    await session.release();
  });

  it("reads float initializers back (for warm starts), skipping other element types", () => {
    const g = new OnnxGraph();
    g.addInput("x", "float32", [3]);
    g.addInitializer("w", new Float32Array([0.5, -1.25, 3e-8]), [3]);
    g.addInitializer("shape", new BigInt64Array([3n]), [1]);
    g.addNode("Mul", ["x", "w"], ["y"]);
    g.addOutput("y", "float32", [3]);
    const tensors = readFloatInitializers(g.toBytes());
    expect([...tensors.keys()]).toEqual(["w"]);
    expect(tensors.get("w")!.dims).toEqual([3]);
    expect(Array.from(tensors.get("w")!.data)).toEqual([0.5, -1.25, Math.fround(3e-8)]);
  });

  it("refuses malformed graphs with a readable error", () => {
    const undefinedInput = new OnnxGraph().addInput("x", "float32", [1]).addNode("Relu", ["y"], ["z"]).addOutput("z", "float32", [1]);
    expect(() => undefinedInput.toBytes()).toThrow(/reads "y" before anything defines it/);

    const duplicate = new OnnxGraph().addInput("x", "float32", [1]).addNode("Relu", ["x"], ["x"]).addOutput("x", "float32", [1]);
    expect(() => duplicate.toBytes()).toThrow(/"x" is defined twice/);

    const missingOutput = new OnnxGraph().addInput("x", "float32", [1]).addNode("Relu", ["x"], ["y"]).addOutput("z", "float32", [1]);
    expect(() => missingOutput.toBytes()).toThrow(/"z" is never produced/);

    expect(() => new OnnxGraph().addInitializer("w", new Float32Array(3), [2, 2])).toThrow(/3 values for shape \[2,2\]/);
    expect(() => new OnnxGraph().addInput("x", "float32", [-1])).toThrow(/bad dimension/);
  });
});
