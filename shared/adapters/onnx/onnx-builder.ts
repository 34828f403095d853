import {
  ATTRIBUTE_TYPE,
  ModelProto,
  TENSOR_DATA_TYPE,
  irVersionForOpset,
  type OnnxElemType,
} from "./onnx-proto.ts";

export { decodeOnnxModel, irVersionForOpset, readFloatInitializers, type FloatInitializer, type OnnxElemType } from "./onnx-proto.ts";

/**
 * A small ONNX graph builder: enough to export the baseline trainer's model and to build test
 * models for the evaluator, without a Python toolchain. It writes the real protobuf wire format
 * (see `onnx-proto.ts`) and checks the graph is well formed before encoding, because a malformed
 * graph otherwise only surfaces as an opaque error inside onnxruntime.
 *
 * ```ts
 * const g = new OnnxGraph("segmenter");
 * g.addInput("input", "float32", ["N", 4, "H", "W"]);
 * g.addInitializer("w", weights, [16, 4, 1, 1]);
 * g.addNode("Conv", ["input", "w"], ["hidden"]);
 * g.addOutput("logits", "float32", ["N", 16, "H", "W"]);
 * const bytes = g.toBytes();
 * ```
 */

/** A dimension: a fixed size, or a symbolic name (`"N"`, `"H"`) for a size given at run time. */
export type OnnxDim = number | string;

export type InitializerData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array | Int8Array;

/**
 * An attribute value. Plain numbers are INT when integral and FLOAT otherwise, so a float
 * attribute that happens to be integral (LeakyRelu `alpha: 1`) needs the explicit `attr.float(1)`.
 */
export type AttributeValue = number | bigint | string | number[] | string[] | ExplicitAttribute;

export type ExplicitAttribute =
  | { kind: "float"; value: number }
  | { kind: "floats"; value: number[] }
  | { kind: "int"; value: number | bigint }
  | { kind: "ints"; value: (number | bigint)[] }
  | { kind: "tensor"; data: InitializerData; dims: number[] };

/** Explicitly typed attribute values, for when the plain-number inference guesses wrong. */
export const attr = {
  float: (value: number): ExplicitAttribute => ({ kind: "float", value }),
  floats: (value: number[]): ExplicitAttribute => ({ kind: "floats", value }),
  int: (value: number | bigint): ExplicitAttribute => ({ kind: "int", value }),
  ints: (value: (number | bigint)[]): ExplicitAttribute => ({ kind: "ints", value }),
  tensor: (data: InitializerData, dims: number[]): ExplicitAttribute => ({ kind: "tensor", data, dims }),
};

export interface ToBytesOptions {
  /** The ai.onnx opset the graph's nodes follow. */
  opset?: number;
  producer?: string;
  producerVersion?: string;
  docString?: string;
  /** Free-form `metadata_props` (visible to onnxruntime as `modelMetadata.customMetadataMap`). */
  metadata?: Record<string, string>;
}

interface ValueInfo {
  name: string;
  elemType: OnnxElemType;
  dims: OnnxDim[];
}

interface Initializer {
  name: string;
  data: InitializerData;
  dims: number[];
}

interface Node {
  opType: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttributeValue>;
  name: string;
  domain: string;
}

export class OnnxGraph {
  readonly name: string;
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly initializers: Initializer[] = [];
  private readonly nodes: Node[] = [];

  constructor(name = "graph") {
    this.name = name;
  }

  addInput(name: string, elemType: OnnxElemType, dims: OnnxDim[]): this {
    this.inputs.push({ name, elemType, dims: checkDims(name, dims) });
    return this;
  }

  addOutput(name: string, elemType: OnnxElemType, dims: OnnxDim[]): this {
    this.outputs.push({ name, elemType, dims: checkDims(name, dims) });
    return this;
  }

  /** A constant tensor (weights). Its element type follows the typed array. */
  addInitializer(name: string, data: InitializerData, dims: number[]): this {
    checkTensorSize(name, data, dims);
    this.initializers.push({ name, data, dims });
    return this;
  }

  /** Adds a node; nodes must be added in topological order (inputs defined before use). */
  addNode(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttributeValue> = {}, name?: string, domain = ""): this {
    if (outputs.length === 0) throw new Error(`ONNX node ${opType} needs at least one output`);
    this.nodes.push({ opType, inputs, outputs, attrs, name: name ?? `${opType}_${this.nodes.length}`, domain });
    return this;
  }

  /** Serialises the model. Throws a plain Error (a programming mistake) for a malformed graph. */
  toBytes(options: ToBytesOptions = {}): Uint8Array {
    const opset = options.opset ?? 17;
    this.checkWellFormed();
    const model = {
      irVersion: irVersionForOpset(opset),
      producerName: options.producer ?? "mlops-loop",
      producerVersion: options.producerVersion ?? "1",
      docString: options.docString,
      opsetImport: [{ domain: "", version: opset }],
      metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
      graph: {
        name: this.name,
        node: this.nodes.map((n) => ({
          input: n.inputs,
          output: n.outputs,
          name: n.name,
          opType: n.opType,
          domain: n.domain,
          attribute: Object.entries(n.attrs).map(([attrName, value]) => encodeAttribute(attrName, value)),
        })),
        initializer: this.initializers.map((t) => encodeTensor(t.name, t.data, t.dims)),
        input: this.inputs.map(encodeValueInfo),
        output: this.outputs.map(encodeValueInfo),
      },
    };
    const problem = ModelProto.verify(model);
    if (problem) throw new Error(`ONNX model does not fit the schema: ${problem}`);
    return ModelProto.encode(ModelProto.fromObject(model)).finish();
  }

  private checkWellFormed(): void {
    const defined = new Set<string>();
    const define = (name: string, what: string) => {
      if (!name) throw new Error(`ONNX ${what} has an empty name`);
      if (defined.has(name)) throw new Error(`ONNX value "${name}" is defined twice (${what})`);
      defined.add(name);
    };
    for (const i of this.inputs) define(i.name, "graph input");
    for (const t of this.initializers) define(t.name, "initializer");
    for (const n of this.nodes) {
      for (const input of n.inputs) {
        // An empty name is ONNX's way to skip an optional input.
        if (input && !defined.has(input)) {
          throw new Error(`ONNX node ${n.name} (${n.opType}) reads "${input}" before anything defines it`);
        }
      }
      for (const output of n.outputs) define(output, `output of node ${n.name}`);
    }
    if (this.outputs.length === 0) throw new Error("ONNX graph has no outputs");
    for (const o of this.outputs) {
      if (!defined.has(o.name)) throw new Error(`ONNX graph output "${o.name}" is never produced`);
    }
  }
}

function checkDims(name: string, dims: OnnxDim[]): OnnxDim[] {
  for (const d of dims) {
    const ok = typeof d === "string" ? d.length > 0 : Number.isInteger(d) && d >= 0;
    if (!ok) throw new Error(`ONNX value "${name}": bad dimension ${JSON.stringify(d)} (a size ≥ 0 or a symbolic name)`);
  }
  return [...dims];
}

function checkTensorSize(name: string, data: InitializerData, dims: number[]): void {
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`ONNX tensor "${name}": bad dimension ${d}`);
  }
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) {
    throw new Error(`ONNX tensor "${name}": ${data.length} values for shape [${dims.join(",")}] (needs ${expected})`);
  }
}

function elemTypeOf(data: InitializerData): OnnxElemType {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  if (data instanceof BigInt64Array) return "int64";
  if (data instanceof Int32Array) return "int32";
  if (data instanceof Int8Array) return "int8";
  return "uint8";
}

/** Tensor contents go in `raw_data`: fixed-width little-endian, as the spec requires. */
function encodeTensor(name: string, data: InitializerData, dims: number[]) {
  const elemType = elemTypeOf(data);
  const raw = new Uint8Array(data.byteLength);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < data.length; i++) {
    switch (elemType) {
      case "float32": view.setFloat32(i * 4, data[i] as number, true); break;
      case "float64": view.setFloat64(i * 8, data[i] as number, true); break;
      case "int64": view.setBigInt64(i * 8, data[i] as bigint, true); break;
      case "int32": view.setInt32(i * 4, data[i] as number, true); break;
      case "int8": view.setInt8(i, data[i] as number); break;
      default: view.setUint8(i, data[i] as number);
    }
  }
  return { name, dims, dataType: TENSOR_DATA_TYPE[elemType], rawData: raw };
}

function encodeValueInfo(v: ValueInfo) {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: TENSOR_DATA_TYPE[v.elemType],
        shape: { dim: v.dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

function int64(value: number | bigint): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`ONNX int attribute out of range: ${value}`);
  return n;
}

function encodeAttribute(name: string, value: AttributeValue) {
  if (typeof value === "string") return { name, type: ATTRIBUTE_TYPE.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === "bigint") return { name, type: ATTRIBUTE_TYPE.INT, i: int64(value) };
  if (typeof value === "number") {
    return Number.isInteger(value) ? { name, type: ATTRIBUTE_TYPE.INT, i: value } : { name, type: ATTRIBUTE_TYPE.FLOAT, f: value };
  }
  if (Array.isArray(value)) {
    if (value.every((v): v is string => typeof v === "string")) {
      return { name, type: ATTRIBUTE_TYPE.STRINGS, strings: value.map((v) => new TextEncoder().encode(v)) };
    }
    const numbers = value as number[];
    return numbers.every((v) => Number.isInteger(v))
      ? { name, type: ATTRIBUTE_TYPE.INTS, ints: numbers }
      : { name, type: ATTRIBUTE_TYPE.FLOATS, floats: numbers };
  }
  switch (value.kind) {
    case "float": return { name, type: ATTRIBUTE_TYPE.FLOAT, f: value.value };
    case "floats": return { name, type: ATTRIBUTE_TYPE.FLOATS, floats: value.value };
    case "int": return { name, type: ATTRIBUTE_TYPE.INT, i: int64(value.value) };
    case "ints": return { name, type: ATTRIBUTE_TYPE.INTS, ints: value.value.map(int64) };
    case "tensor":
      checkTensorSize(`${name} attribute`, value.data, value.dims);
      return { name, type: ATTRIBUTE_TYPE.TENSOR, t: encodeTensor(name, value.data, value.dims) };
  }
}
