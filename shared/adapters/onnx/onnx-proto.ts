import protobuf from "protobufjs";

/**
 * The subset of `onnx.proto` (package `onnx`, proto2) that our builder writes and our tests read
 * back, declared through protobufjs reflection so we need no generated code and no onnx package.
 * Field numbers are the real ones from onnx/onnx.proto; an ONNX runtime reads these bytes, so a
 * wrong number here is a silently broken model. Only fields we use are declared: protobuf skips
 * unknown fields on decode, so reading a model written by another tool still works.
 */
const ONNX_PROTO_JSON = {
  nested: {
    onnx: {
      nested: {
        AttributeProto: {
          fields: {
            name: { type: "string", id: 1 },
            f: { type: "float", id: 2 },
            i: { type: "int64", id: 3 },
            s: { type: "bytes", id: 4 },
            t: { type: "TensorProto", id: 5 },
            floats: { rule: "repeated", type: "float", id: 7 },
            ints: { rule: "repeated", type: "int64", id: 8 },
            strings: { rule: "repeated", type: "bytes", id: 9 },
            docString: { type: "string", id: 13 },
            type: { type: "AttributeType", id: 20 },
          },
          nested: {
            AttributeType: {
              values: {
                UNDEFINED: 0, FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5,
                FLOATS: 6, INTS: 7, STRINGS: 8, TENSORS: 9, GRAPHS: 10,
              },
            },
          },
        },
        ValueInfoProto: {
          fields: {
            name: { type: "string", id: 1 },
            type: { type: "TypeProto", id: 2 },
            docString: { type: "string", id: 3 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: "repeated", type: "string", id: 1 },
            output: { rule: "repeated", type: "string", id: 2 },
            name: { type: "string", id: 3 },
            opType: { type: "string", id: 4 },
            attribute: { rule: "repeated", type: "AttributeProto", id: 5 },
            docString: { type: "string", id: 6 },
            domain: { type: "string", id: 7 },
          },
        },
        StringStringEntryProto: {
          fields: {
            key: { type: "string", id: 1 },
            value: { type: "string", id: 2 },
          },
        },
        ModelProto: {
          fields: {
            irVersion: { type: "int64", id: 1 },
            producerName: { type: "string", id: 2 },
            producerVersion: { type: "string", id: 3 },
            domain: { type: "string", id: 4 },
            modelVersion: { type: "int64", id: 5 },
            docString: { type: "string", id: 6 },
            graph: { type: "GraphProto", id: 7 },
            opsetImport: { rule: "repeated", type: "OperatorSetIdProto", id: 8 },
            metadataProps: { rule: "repeated", type: "StringStringEntryProto", id: 14 },
          },
        },
        GraphProto: {
          fields: {
            node: { rule: "repeated", type: "NodeProto", id: 1 },
            name: { type: "string", id: 2 },
            initializer: { rule: "repeated", type: "TensorProto", id: 5 },
            docString: { type: "string", id: 10 },
            input: { rule: "repeated", type: "ValueInfoProto", id: 11 },
            output: { rule: "repeated", type: "ValueInfoProto", id: 12 },
            valueInfo: { rule: "repeated", type: "ValueInfoProto", id: 13 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: "repeated", type: "int64", id: 1 },
            dataType: { type: "int32", id: 2 },
            floatData: { rule: "repeated", type: "float", id: 4, options: { packed: true } },
            int32Data: { rule: "repeated", type: "int32", id: 5, options: { packed: true } },
            int64Data: { rule: "repeated", type: "int64", id: 7, options: { packed: true } },
            name: { type: "string", id: 8 },
            rawData: { type: "bytes", id: 9 },
            docString: { type: "string", id: 12 },
          },
        },
        TensorShapeProto: {
          fields: {
            dim: { rule: "repeated", type: "Dimension", id: 1 },
          },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ["dimValue", "dimParam"] } },
              fields: {
                dimValue: { type: "int64", id: 1 },
                dimParam: { type: "string", id: 2 },
                denotation: { type: "string", id: 3 },
              },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ["tensorType"] } },
          fields: {
            tensorType: { type: "Tensor", id: 1 },
            denotation: { type: "string", id: 6 },
          },
          nested: {
            Tensor: {
              fields: {
                elemType: { type: "int32", id: 1 },
                shape: { type: "TensorShapeProto", id: 2 },
              },
            },
          },
        },
        OperatorSetIdProto: {
          fields: {
            domain: { type: "string", id: 1 },
            version: { type: "int64", id: 2 },
          },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(ONNX_PROTO_JSON);

export const ModelProto = root.lookupType("onnx.ModelProto");

/** `TensorProto.DataType` values for the element types we write. */
export const TENSOR_DATA_TYPE = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
} as const;

export type OnnxElemType = keyof typeof TENSOR_DATA_TYPE;

/** `AttributeProto.AttributeType` values. */
export const ATTRIBUTE_TYPE = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

/**
 * The IR version that goes with an ai.onnx opset (onnx/docs/Versioning.md): writing a newer IR
 * than the opset needs would make older runtimes refuse a model they could otherwise run.
 */
export function irVersionForOpset(opset: number): number {
  if (opset <= 8) return 3;
  if (opset <= 10) return 5;
  if (opset <= 12) return 7;
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

/** Decodes model bytes into a plain object (longs as numbers, bytes as Buffers), for tests and tooling. */
export function decodeOnnxModel(bytes: Uint8Array): Record<string, unknown> {
  const message = ModelProto.decode(bytes);
  return ModelProto.toObject(message, { longs: Number, defaults: false, arrays: true }) as Record<string, unknown>;
}

export interface FloatInitializer {
  dims: number[];
  data: Float32Array;
}

/**
 * The float32 initializers (weights) of a model by name, from `raw_data` or `float_data`. Used to
 * warm-start a trainer from a previous model; other element types are skipped.
 */
export function readFloatInitializers(bytes: Uint8Array): Map<string, FloatInitializer> {
  const model = decodeOnnxModel(bytes) as {
    graph?: { initializer?: { name?: string; dims?: number[]; dataType?: number; rawData?: Uint8Array; floatData?: number[] }[] };
  };
  const out = new Map<string, FloatInitializer>();
  for (const t of model.graph?.initializer ?? []) {
    if (!t.name || t.dataType !== TENSOR_DATA_TYPE.float32) continue;
    const dims = t.dims ?? [];
    let data: Float32Array;
    if (t.rawData && t.rawData.length > 0) {
      const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
      data = new Float32Array(t.rawData.byteLength / 4);
      for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(i * 4, true);
    } else {
      data = Float32Array.from(t.floatData ?? []);
    }
    out.set(t.name, { dims, data });
  }
  return out;
}
