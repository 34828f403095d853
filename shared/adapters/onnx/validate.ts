import { PermanentError } from "../../errors.ts";
import { summariseIssues } from "../../messages/build.ts";
import { ModelCardSchema, type ModelCard } from "../../core/models/model-card.ts";
import type { InferenceSession } from "onnxruntime-node";

/**
 * Checks that an ONNX model is what its model card says it is, before anyone scores or promotes
 * it. The training wrapper runs this on the trainer's output and the evaluator runs it again on
 * what it downloads, so a card that lies about its input (wrong name, band count, layout, dtype)
 * fails with a readable `model_card_mismatch` instead of garbage metrics or a crash mid-run.
 *
 * onnxruntime-node ≥ 1.22 exposes `inputMetadata`/`outputMetadata` (element type and shape with
 * numbers for fixed dims and strings for symbolic ones); with older sessions only names are checked.
 */

/** The tensor metadata onnxruntime reports per input/output. */
export interface ValueMetadataLike {
  name: string;
  isTensor: boolean;
  type?: string;
  shape?: readonly (number | string)[];
}

/** What we need from an `InferenceSession` (a structural type, so tests can pass a literal). */
export interface SessionLike {
  inputNames: readonly string[];
  outputNames: readonly string[];
  inputMetadata?: readonly ValueMetadataLike[];
  outputMetadata?: readonly ValueMetadataLike[];
}

const FLOAT_TYPES = new Set(["float32", "float16", "float64"]);
const INTEGER_TYPES = new Set(["int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64"]);

/** Expected output rank per format, and which dim (if fixed) must equal a count derived from the classes. */
function outputExpectation(card: ModelCard): { rank: number; shape: string; classDim?: { index: number; size: number; what: string }; lastDim?: number } {
  const c = card.classes.length;
  switch (card.output.format) {
    case "logits":
      return card.task === "classification"
        ? { rank: 2, shape: "[N,C]", classDim: { index: 1, size: c, what: "C (one logit per class)" } }
        : { rank: 4, shape: "[N,C,H,W]", classDim: { index: 1, size: c, what: "C (one logit per class)" } };
    case "labels":
      return { rank: 3, shape: "[N,H,W]" };
    case "yolo_raw":
      return { rank: 3, shape: "[N,4+C,A]", classDim: { index: 1, size: 4 + c, what: "4+C (box then class scores)" } };
    case "nms":
      return { rank: 3, shape: "[N,K,6]", lastDim: 6 };
  }
}

/**
 * Throws `PermanentError("model_card_mismatch")` listing every disagreement between the session's
 * inputs/outputs and the card. Returns normally when they agree.
 */
export function validateSessionAgainstCard(session: SessionLike, card: ModelCard): void {
  const problems: string[] = [];
  const names = (list: readonly string[]) => (list.length ? list.map((n) => `"${n}"`).join(", ") : "none");

  if (!session.inputNames.includes(card.input.name)) {
    problems.push(`input "${card.input.name}" is not in the model (model inputs: ${names(session.inputNames)})`);
  } else {
    const meta = session.inputMetadata?.find((m) => m.name === card.input.name);
    if (meta) problems.push(...checkInput(meta, card));
  }

  if (!session.outputNames.includes(card.output.name)) {
    problems.push(`output "${card.output.name}" is not in the model (model outputs: ${names(session.outputNames)})`);
  } else {
    const meta = session.outputMetadata?.find((m) => m.name === card.output.name);
    if (meta) problems.push(...checkOutput(meta, card));
  }

  if (problems.length > 0) {
    throw new PermanentError("model_card_mismatch", `model.onnx does not match model.json: ${problems.join("; ")}`);
  }
}

function shapeText(shape: readonly (number | string)[]): string {
  return `[${shape.join(",")}]`;
}

function checkInput(meta: ValueMetadataLike, card: ModelCard): string[] {
  const input = card.input;
  if (!meta.isTensor) return [`input "${input.name}" is not a tensor`];
  const problems: string[] = [];
  if (meta.type !== undefined && meta.type !== input.dtype) {
    problems.push(`input "${input.name}" is ${meta.type} but the card says ${input.dtype}`);
  }
  const shape = meta.shape ?? [];
  // An empty shape means the model declares none: nothing to check against.
  if (shape.length === 0) return problems;
  if (shape.length !== 4) {
    problems.push(`input "${input.name}" has rank ${shape.length} ${shapeText(shape)}; an image input is rank 4 (${input.layout})`);
    return problems;
  }
  const [channelAxis, heightAxis, widthAxis] = input.layout === "NCHW" ? [1, 2, 3] : [3, 1, 2];
  const channels = shape[channelAxis];
  if (typeof channels === "number" && channels !== input.channels.length) {
    const otherAxis = input.layout === "NCHW" ? 3 : 1;
    const hint = shape[otherAxis] === input.channels.length ? ` (it looks like ${input.layout === "NCHW" ? "NHWC" : "NCHW"})` : "";
    problems.push(
      `input "${input.name}" ${shapeText(shape)} has ${channels} channels on the ${input.layout} channel axis but the card lists ` +
        `${input.channels.length} (${input.channels.join(", ")})${hint}`,
    );
  }
  for (const [axis, want, label] of [[heightAxis, input.height, "height"], [widthAxis, input.width, "width"]] as const) {
    const got = shape[axis];
    if (typeof got !== "number") continue;
    if (want === null) {
      problems.push(`input "${input.name}" ${shapeText(shape)} has a fixed ${label} of ${got} but the card says any size (null)`);
    } else if (got !== want) {
      problems.push(`input "${input.name}" ${shapeText(shape)} has ${label} ${got} but the card says ${want}`);
    }
  }
  return problems;
}

function checkOutput(meta: ValueMetadataLike, card: ModelCard): string[] {
  const name = card.output.name;
  const format = card.output.format;
  if (!meta.isTensor) return [`output "${name}" is not a tensor`];
  const problems: string[] = [];
  if (meta.type !== undefined) {
    const wantFloat = format !== "labels";
    const ok = wantFloat ? FLOAT_TYPES.has(meta.type) : INTEGER_TYPES.has(meta.type);
    if (!ok) problems.push(`output "${name}" is ${meta.type}; ${format} output must be ${wantFloat ? "floating point" : "integer class ids"}`);
  }
  const shape = meta.shape ?? [];
  if (shape.length === 0) return problems;
  const want = outputExpectation(card);
  if (shape.length !== want.rank) {
    problems.push(`output "${name}" has rank ${shape.length} ${shapeText(shape)}; ${card.task} ${format} output is ${want.shape}`);
    return problems;
  }
  if (want.classDim) {
    const got = shape[want.classDim.index];
    if (typeof got === "number" && got !== want.classDim.size) {
      problems.push(`output "${name}" ${shapeText(shape)} has ${got} on axis ${want.classDim.index}, expected ${want.classDim.size} = ${want.classDim.what} for ${card.classes.length} classes`);
    }
  }
  if (want.lastDim !== undefined) {
    const got = shape[shape.length - 1];
    if (typeof got === "number" && got !== want.lastDim) {
      problems.push(`output "${name}" ${shapeText(shape)} has last dimension ${got}; nms output rows are ${want.lastDim} values (x1,y1,x2,y2,score,class)`);
    }
  }
  return problems;
}

/** Parses an untrusted `model.json`; a card that does not fit the schema is a PermanentError. */
export function parseModelCard(raw: unknown): ModelCard {
  const parsed = ModelCardSchema.safeParse(raw);
  if (!parsed.success) throw new PermanentError("invalid_model_card", `model.json is not a valid model card: ${summariseIssues(parsed.error.issues)}`);
  return parsed.data;
}

/** `InferenceSession.create` (tests pass a stand-in, e.g. one that pretends CUDA is available). */
export type SessionFactory = (modelBytes: Uint8Array, options: InferenceSession.SessionOptions) => Promise<InferenceSession>;

/**
 * Loads model bytes into an onnxruntime session and validates it against the card. A model that
 * onnxruntime cannot load is a PermanentError (`invalid_model`): the bytes will not get better.
 * onnxruntime is imported lazily so callers that only validate metadata stay light.
 */
export async function loadAndValidate(
  modelBytes: Uint8Array,
  card: ModelCard,
  options: InferenceSession.SessionOptions = {},
  createSession?: SessionFactory,
): Promise<InferenceSession> {
  let create = createSession;
  if (!create) {
    const ort = await import("onnxruntime-node");
    create = (bytes, sessionOptions) => ort.InferenceSession.create(bytes, sessionOptions);
  }
  let session: InferenceSession;
  try {
    session = await create(modelBytes, options);
  } catch (err) {
    const reason = (err as Error).message.replace(/\s+/g, " ").slice(0, 400);
    throw new PermanentError("invalid_model", `onnxruntime cannot load model.onnx: ${reason}`, { cause: err });
  }
  try {
    validateSessionAgainstCard(session, card);
  } catch (err) {
    await session.release().catch(() => undefined);
    throw err;
  }
  return session;
}
