import { readFile } from "node:fs/promises";
import { InferenceSession, Tensor } from "onnxruntime-node";
import { ATTRIBUTE_TYPE, ModelProto, TENSOR_DATA_TYPE } from "./onnx-proto.ts";
import { PermanentError } from "../../errors.ts";
import type { ModelCard } from "../../core/models/model-card.ts";
import type { ModelOutput, ModelRunner } from "../../core/evaluation/types.ts";
import { openWithProviders } from "./providers.ts";
import { loadAndValidate, type SessionFactory } from "./validate.ts";

/**
 * onnxruntime-node sessions behind the evaluator's `ModelRunner` port. One session per model per
 * job: creating a session parses and optimises the graph, which costs far more than a batch.
 */
export interface LoadedModel extends ModelRunner {
  /** The onnxruntime execution provider that created the session (`cuda`, `cpu`). */
  readonly executionProvider: string;
  /** Why preferred providers were passed over ("cuda: Failed to load shared library"). */
  readonly providerFallbacks: readonly string[];
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
  /** Append the argmax of segmentation logits to the graph (default true; see appendLabelsOutput). */
  fuseArgmax?: boolean;
  /**
   * Execution providers in order of preference (see providers.ts: `selectExecutionProviders`);
   * each is tried with the rest of the list behind it, the CPU last. Default: the CPU alone.
   */
  executionProviders?: readonly string[];
  /** Creates sessions (default `InferenceSession.create`); tests stub it. */
  createSession?: SessionFactory;
}

/** Element types a logits output may have, and the bytes of −∞ in each (little-endian). */
const NEGATIVE_INFINITY: Record<string, { dataType: number; rawData: Uint8Array }> = {
  float32: { dataType: TENSOR_DATA_TYPE.float32, rawData: Uint8Array.from([0x00, 0x00, 0x80, 0xff]) },
  float16: { dataType: TENSOR_DATA_TYPE.float16, rawData: Uint8Array.from([0x00, 0xfc]) },
  float64: { dataType: TENSOR_DATA_TYPE.float64, rawData: Uint8Array.from([0, 0, 0, 0, 0, 0, 0xf0, 0xff]) },
};

/** Name of the labels output appended to segmentation models (unlikely to clash with a model's own). */
export const FUSED_LABELS_OUTPUT = "__mlops_labels";

/**
 * Appends `Where(IsNaN(x), −∞, x) → ArgMax(axis=1) → Cast(int32)` to a segmentation model's logits
 * output, as a new graph output. Evaluating then moves one int32 per pixel out of onnxruntime
 * instead of C floats, and the argmax runs in native code: on the baseline model that is 2–3× the
 * throughput.
 *
 * NaN counts as −∞ on every argmax path (a NaN logit never wins; when every logit of a pixel is NaN
 * or −∞ the first class wins the tie): onnxruntime's CPU ArgMax lets a NaN in the first channel win,
 * so NaNs are replaced before the ArgMax, exactly as `accumulateLogitsRegion` treats them.
 *
 * The model bytes are not re-encoded (our protobuf schema is a subset and would drop fields it does
 * not know): a second ModelProto holding only the new nodes and output is appended. Protobuf
 * merges a repeated embedded message field by concatenation, so parsers see the original graph
 * plus our nodes. ONNX ArgMax keeps the first maximum on ties, as our own argmax does. IsNaN and
 * Where need opset 9; an older model fails to load fused and is evaluated from its logits.
 */
export function appendLabelsOutput(bytes: Uint8Array, logitsName: string, logitsType = "float32"): Uint8Array {
  const negInf = NEGATIVE_INFINITY[logitsType];
  if (!negInf) throw new Error(`cannot fuse an argmax over ${logitsType} logits`);
  const names = {
    negInf: `${FUSED_LABELS_OUTPUT}_neginf`,
    isNan: `${FUSED_LABELS_OUTPUT}_isnan`,
    clean: `${FUSED_LABELS_OUTPUT}_clean`,
    argmax: `${FUSED_LABELS_OUTPUT}_argmax`,
  };
  const extra = ModelProto.encode(
    ModelProto.fromObject({
      graph: {
        node: [
          { output: [names.negInf], opType: "Constant", name: names.negInf, attribute: [
            { name: "value", type: ATTRIBUTE_TYPE.TENSOR, t: { dims: [], dataType: negInf.dataType, rawData: negInf.rawData } },
          ] },
          { input: [logitsName], output: [names.isNan], opType: "IsNaN", name: names.isNan },
          { input: [names.isNan, names.negInf, logitsName], output: [names.clean], opType: "Where", name: names.clean },
          { input: [names.clean], output: [names.argmax], opType: "ArgMax", name: names.argmax, attribute: [
            { name: "axis", type: ATTRIBUTE_TYPE.INT, i: 1 },
            { name: "keepdims", type: ATTRIBUTE_TYPE.INT, i: 0 },
          ] },
          { input: [names.argmax], output: [FUSED_LABELS_OUTPUT], opType: "Cast", name: FUSED_LABELS_OUTPUT, attribute: [
            { name: "to", type: ATTRIBUTE_TYPE.INT, i: TENSOR_DATA_TYPE.int32 },
          ] },
        ],
        output: [{ name: FUSED_LABELS_OUTPUT, type: { tensorType: { elemType: TENSOR_DATA_TYPE.int32 } } }],
      },
    }),
  ).finish();
  const out = new Uint8Array(bytes.length + extra.length);
  out.set(bytes);
  out.set(extra, bytes.length);
  return out;
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
  const baseOptions: InferenceSession.SessionOptions = { graphOptimizationLevel: "all" };
  if (options.intraOpNumThreads !== undefined) baseOptions.intraOpNumThreads = options.intraOpNumThreads;
  const preferred = options.executionProviders ?? ["cpu"];
  const opened = await openWithProviders(preferred, (executionProviders) =>
    loadAndValidate(bytes, card, { ...baseOptions, executionProviders }, options.createSession));
  let session = opened.value;
  // The fused session uses the providers that worked for the model itself.
  const sessionOptions = { ...baseOptions, executionProviders: preferred.slice(preferred.indexOf(opened.provider)) };
  const create = options.createSession ?? ((b: Uint8Array, o: InferenceSession.SessionOptions) => InferenceSession.create(b, o));
  let runCard = card;
  let originalOutputFormat: string | undefined;
  if (card.task === "segmentation" && card.output.format === "logits" && options.fuseArgmax !== false) {
    try {
      const logitsMeta = session.outputMetadata?.find((m) => m.name === card.output.name);
      const logitsType = logitsMeta?.isTensor ? logitsMeta.type : "float32";
      const fused = await create(appendLabelsOutput(bytes, card.output.name, logitsType), sessionOptions);
      await session.release();
      session = fused;
      runCard = { ...card, output: { ...card.output, name: FUSED_LABELS_OUTPUT, format: "labels" } };
      originalOutputFormat = card.output.format;
    } catch {
      // An unusual graph the fused version does not load in: evaluate the logits as they are.
    }
  }

  // A fixed ONNX batch dimension (often 1 from exporters) caps the batch; a fixed B > 1 also
  // means partial batches must be padded up to B.
  const inputMeta = session.inputMetadata.find((m) => m.name === card.input.name);
  const batchDim = inputMeta?.isTensor ? inputMeta.shape[0] : undefined;
  const fixedBatch = typeof batchDim === "number" && batchDim > 0 ? batchDim : null;
  const maxBatch = fixedBatch ?? Math.max(1, options.maxBatch ?? 64);

  return {
    card: runCard,
    ...(originalOutputFormat ? { originalOutputFormat } : {}),
    executionProvider: opened.provider,
    providerFallbacks: opened.fallbacks,
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
        result = await session.run({ [card.input.name]: tensor }, [runCard.output.name]);
      } catch (err) {
        const reason = (err as Error).message.replace(/\s+/g, " ").slice(0, 400);
        throw new PermanentError("inference_failed", `model "${card.name}" failed on input [${runDims.join(",")}]: ${reason}`, { cause: err });
      }
      // onnxruntime-node 1.23 keys a single fetched output by the graph's FIRST output name,
      // whichever output was fetched; we fetch exactly one, so take the one value it returns.
      const values = Object.values(result);
      const value = result[runCard.output.name] ?? (values.length === 1 ? values[0] : undefined);
      if (!value || !(value instanceof Tensor)) {
        throw new PermanentError("bad_model_output", `model "${card.name}" returned no tensor "${runCard.output.name}"`);
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
