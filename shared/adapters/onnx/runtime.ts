import { readFile } from "node:fs/promises";
import { Tensor, type InferenceSession } from "onnxruntime-node";
import { PermanentError } from "../../errors.ts";
import type { ModelCard } from "../../core/models/model-card.ts";
import type { ModelOutput, ModelRunner } from "../../core/evaluation/types.ts";
import { loadAndValidate } from "./validate.ts";

/**
 * onnxruntime-node sessions behind the evaluator's `ModelRunner` port. One session per model per
 * job: creating a session parses and optimises the graph, which costs far more than a batch.
 */
export interface LoadedModel extends ModelRunner {
  /** Frees the native session; the runner must not be used afterwards. */
  release(): Promise<void>;
}

export interface LoadModelOptions {
  card: ModelCard;
  /** The ONNX bytes, or a path to read them from. */
  modelBytes?: Uint8Array;
  modelPath?: string;
  /** Threads inside one operator; onnxruntime's default (all cores) when absent. */
  intraOpNumThreads?: number;
  /** Upper bound for batches when the ONNX batch dimension is symbolic (default 64). */
  maxBatch?: number;
}

/**
 * Loads a model and checks it against its card (`validateSessionAgainstCard`): a mismatch or an
 * unloadable file is a PermanentError, so the evaluation fails with that reason instead of
 * producing metrics for the wrong thing.
 */
export async function loadModel(options: LoadModelOptions): Promise<LoadedModel> {
  const { card } = options;
  const bytes = options.modelBytes ?? (options.modelPath !== undefined ? await readModelFile(options.modelPath) : undefined);
  if (!bytes) throw new Error("loadModel needs modelBytes or modelPath");
  const sessionOptions: InferenceSession.SessionOptions = { graphOptimizationLevel: "all" };
  if (options.intraOpNumThreads !== undefined) sessionOptions.intraOpNumThreads = options.intraOpNumThreads;
  const session = await loadAndValidate(bytes, card, sessionOptions);

  // A fixed ONNX batch dimension (often 1 from exporters) caps the batch; a fixed B > 1 also
  // means partial batches must be padded up to B.
  const inputMeta = session.inputMetadata.find((m) => m.name === card.input.name);
  const batchDim = inputMeta?.isTensor ? inputMeta.shape[0] : undefined;
  const fixedBatch = typeof batchDim === "number" && batchDim > 0 ? batchDim : null;
  const maxBatch = fixedBatch ?? Math.max(1, options.maxBatch ?? 64);

  return {
    card,
    maxBatch,
    async run(input, dims) {
      const batch = dims[0] ?? 1;
      if (fixedBatch !== null && batch > fixedBatch) {
        throw new Error(`model takes batches of ${fixedBatch}, got ${batch}`);
      }
      const padded = fixedBatch !== null && batch < fixedBatch ? padBatch(input, batch, fixedBatch) : input;
      const runDims = padded === input ? [...dims] : [fixedBatch!, ...dims.slice(1)];
      const tensor = card.input.dtype === "float32"
        ? new Tensor("float32", asFloat32(padded), runDims)
        : new Tensor("uint8", asUint8(padded), runDims);
      let result: InferenceSession.ReturnType;
      try {
        result = await session.run({ [card.input.name]: tensor }, [card.output.name]);
      } catch (err) {
        const reason = (err as Error).message.replace(/\s+/g, " ").slice(0, 400);
        throw new PermanentError("inference_failed", `model "${card.name}" failed on input [${runDims.join(",")}]: ${reason}`, { cause: err });
      }
      const value = result[card.output.name];
      if (!value || !(value instanceof Tensor)) {
        throw new PermanentError("bad_model_output", `model "${card.name}" returned no tensor "${card.output.name}"`);
      }
      const output = toModelOutput(value);
      return padded === input ? output : sliceBatch(output, batch);
    },
    async release() {
      await session.release();
    },
  };
}

async function readModelFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new PermanentError("model_not_found", `no model file at ${path}`);
    throw err;
  }
}

function asFloat32(data: Float32Array | Uint8Array): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

function asUint8(data: Float32Array | Uint8Array): Uint8Array {
  return data instanceof Uint8Array ? data : Uint8Array.from(data);
}

function padBatch(input: Float32Array | Uint8Array, batch: number, to: number): Float32Array | Uint8Array {
  const per = input.length / batch;
  const out = input instanceof Float32Array ? new Float32Array(per * to) : new Uint8Array(per * to);
  out.set(input);
  return out;
}

function sliceBatch(output: ModelOutput, batch: number): ModelOutput {
  const total = output.dims[0] ?? 1;
  const per = output.data.length / total;
  return { data: output.data.slice(0, per * batch), dims: [batch, ...output.dims.slice(1)] };
}

/**
 * Normalises onnxruntime's output: floats become Float32Array, integers (labels, ArgMax's int64,
 * class ids) become Int32Array so the metric loops see one integer type.
 */
export function toModelOutput(tensor: Tensor): ModelOutput {
  const dims = [...tensor.dims];
  const data = tensor.data;
  if (tensor.type === "float16") return { data: halfToFloat(data as Uint16Array), dims };
  if (data instanceof Float32Array) return { data, dims };
  if (data instanceof Float64Array) return { data: Float32Array.from(data), dims };
  if (data instanceof Int32Array) return { data, dims };
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    const out = new Int32Array(data.length);
    for (let i = 0; i < data.length; i++) {
      const v = data[i]!;
      // Labels are small class ids; anything outside int32 is garbage and maps to an invalid class.
      out[i] = v > 2147483647n || v < -2147483648n ? -1 : Number(v);
    }
    return { data: out, dims };
  }
  if (data instanceof Uint8Array || data instanceof Int8Array || data instanceof Uint16Array || data instanceof Int16Array || data instanceof Uint32Array) {
    return { data: Int32Array.from(data), dims };
  }
  throw new PermanentError("bad_model_output", `unsupported output tensor type ${tensor.type}`);
}

/** IEEE 754 half-precision bits → float32 (onnxruntime hands float16 tensors over as raw bits). */
function halfToFloat(bits: ArrayLike<number>): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!;
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const fraction = h & 0x3ff;
    out[i] = exponent === 0
      ? sign * 2 ** -14 * (fraction / 1024)
      : exponent === 0x1f
        ? fraction ? NaN : sign * Infinity
        : sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
  }
  return out;
}
