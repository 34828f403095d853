import { PermanentError } from "../errors.ts";
import { aliasHolder, getModel } from "../db/queries/models.ts";
import { predictImage, type Prediction } from "../core/serving/predict.ts";
import type { ItemImages } from "../core/evaluation/types.ts";
import { joinUri } from "../core/uri.ts";
import type { LoadedModel, LoadModelOptions } from "../adapters/onnx/runtime.ts";
import { parseModelCard } from "../adapters/onnx/validate.ts";
import type { DecodedRaster, ImageCodec, Logger, NormalisedOutput, NormaliseOptions, Normaliser, ObjectStore, Queryable } from "../ports.ts";

/**
 * The model server behind `POST /v1/models/{alias}:predict`: an alias resolves to a model id
 * through the alias table (the latest move), the model's ONNX file is read from its prefix in the
 * models bucket and opened once, and uploads are normalised exactly as `ingest` normalises them
 * (same normaliser, same options) before the evaluator's tensor code builds the model input.
 *
 * Swaps without dropping requests: every request looks the alias up (one indexed row). When the
 * holder differs from the loaded model, the new model is loaded once (concurrent requests share
 * the load), then the alias points at it in one assignment; requests already holding the old model
 * finish on it, and its native session is released when the last of them is done. Each answer
 * names the model that produced it. `refresh(alias)` preloads after a promotion so the first
 * request after a move does not pay for the load.
 */

/** An error with the HTTP status it maps to. */
export class ServingError extends Error {
  override readonly name = "ServingError";
  constructor(readonly status: 400 | 404 | 413 | 422 | 500 | 503, readonly code: string, message: string) {
    super(message);
  }
}

/** Normaliser codes that mean "too big for this deployment" rather than "malformed". */
const TOO_LARGE_CODES = new Set(["image_too_large", "decode_too_large", "raster_too_large", "zip_entry_too_large", "too_large"]);

export type ModelLoader = (options: LoadModelOptions) => Promise<LoadedModel>;

/**
 * Where the predictor looks aliases and models up: the database (the server), or a fixed model
 * (the batch job, whose launcher resolved the alias: jobs never touch the database).
 */
export interface ModelCatalog {
  /** The latest move of the alias (`id` orders moves: a higher one is newer), or null when none. */
  aliasHolder(alias: string): Promise<{ id: number; model_id: string } | null>;
  getModel(id: string): Promise<{ uri: string; card: unknown } | null>;
}

export function databaseCatalog(db: Queryable): ModelCatalog {
  return { aliasHolder: (alias) => aliasHolder(db, alias), getModel: (id) => getModel(db, id) };
}

export interface PredictorDeps {
  /** Aliases and models are read from here unless `catalog` is given. */
  db?: Queryable;
  catalog?: ModelCatalog;
  store: ObjectStore;
  log: Logger;
  normaliser: () => Promise<Normaliser>;
  codec: () => Promise<ImageCodec>;
  loadModel: ModelLoader;
  /** The options ingest normalises with (from the `normalise` config section). */
  normaliseOptions: NormaliseOptions;
  maxRequestBytes: number;
  tileSize: number;
  executionProviders?: readonly string[];
}

export interface PredictAnswer {
  modelId: string;
  alias: string;
  width: number;
  height: number;
  classes: string[];
  classFractions: Record<string, number>;
  /** Base64 of an 8-bit grey PNG: class id per pixel, 255 where the source had nodata. */
  maskPng: string;
}

/** What a prediction saw and answered, for metrics and drift records. */
export interface PredictOutcome {
  answer: PredictAnswer;
  maskPng: Buffer;
  prediction: Prediction;
  normalised: NormalisedOutput;
  images: ItemImages;
  nodata: DecodedRaster | null;
}

interface Loaded {
  modelId: string;
  runner: LoadedModel;
  /** Requests running on it now. */
  active: number;
  /** No alias points at it any more: released when `active` reaches 0. */
  retired: boolean;
}

export class Predictor {
  /** alias → the move that put the loaded model there, and the model. */
  private readonly current = new Map<string, { moveId: number; loaded: Loaded }>();
  private readonly loading = new Map<string, Promise<Loaded>>();
  private readonly loadedById = new Map<string, Loaded>();
  /** Models loaded, for tests and the swap bench. */
  loads = 0;

  private readonly catalog: ModelCatalog;

  constructor(private readonly deps: PredictorDeps) {
    if (deps.catalog) this.catalog = deps.catalog;
    else if (deps.db) this.catalog = databaseCatalog(deps.db);
    else throw new Error("Predictor needs a database or a model catalog");
  }

  /** Normalises `bytes` and predicts with the model behind `alias`. */
  async predict(alias: string, bytes: Uint8Array, fileName = "upload"): Promise<PredictOutcome> {
    if (bytes.byteLength > this.deps.maxRequestBytes) throw tooLarge(bytes.byteLength, this.deps.maxRequestBytes);
    const model = await this.acquire(alias);
    try {
      const normalised = await this.normalise(bytes, fileName);
      const codec = await this.deps.codec();
      // Raw planes when the normaliser was asked for them (no PNG round trip); the PNGs otherwise.
      const raw = normalised.raw;
      const images: ItemImages = raw ? { ...(raw.rgb ? { rgb: raw.rgb } : {}), ...(raw.nir ? { nir: raw.nir } : {}), ...(raw.image ? { image: raw.image } : {}) } : await decodeImages(normalised, codec);
      const nodata = raw ? raw.nodata : normalised.nodataMask ? await codec.decodePng(normalised.nodataMask) : null;
      const prediction = await predictImage(model.runner, images, { tileSize: this.deps.tileSize, nodata });
      const maskPng = await codec.encodePng({ width: prediction.width, height: prediction.height, channels: 1, data: prediction.mask });
      const answer: PredictAnswer = {
        modelId: model.modelId,
        alias,
        width: prediction.width,
        height: prediction.height,
        classes: prediction.classes,
        classFractions: prediction.classFractions,
        maskPng: maskPng.toString("base64"),
      };
      return { answer, maskPng, prediction, normalised, images, nodata };
    } catch (err) {
      throw asServingError(err);
    } finally {
      this.release(model);
    }
  }

  /**
   * Predicts an item's decoded renderings (what annotators see) with the model behind `alias`,
   * measuring the softmax's confidence when the loaded model gives logits: pre-labelling's path
   * (shared/core/usecases/prelabel.ts), which loads models without the fused argmax for that.
   */
  async predictImages(alias: string, images: ItemImages, nodata: DecodedRaster | null): Promise<{ modelId: string; prediction: Prediction }> {
    const model = await this.acquire(alias);
    try {
      const prediction = await predictImage(model.runner, images, { tileSize: this.deps.tileSize, nodata, confidence: true });
      return { modelId: model.modelId, prediction };
    } catch (err) {
      throw asServingError(err);
    } finally {
      this.release(model);
    }
  }

  /** Reads `uri` from the store (same size limit) and predicts; writes the mask PNG to `outputUri` when given. */
  async predictObject(alias: string, uri: string, outputUri?: string): Promise<PredictOutcome & { maskUri: string | null }> {
    let size: number;
    try {
      const head = await this.deps.store.head(uri);
      if (!head) throw new ServingError(404, "object_not_found", `no object at ${uri}`);
      size = head.size;
    } catch (err) {
      if (err instanceof PermanentError) throw new ServingError(400, err.code, err.message);
      throw err;
    }
    if (size > this.deps.maxRequestBytes) throw tooLarge(size, this.deps.maxRequestBytes);
    const bytes = await this.deps.store.get(uri);
    const outcome = await this.predict(alias, bytes, uri.split("/").pop() ?? "upload");
    if (!outputUri) return { ...outcome, maskUri: null };
    try {
      await this.deps.store.put(outputUri, outcome.maskPng, { contentType: "image/png" });
    } catch (err) {
      if (err instanceof PermanentError) throw new ServingError(400, err.code, `cannot write ${outputUri}: ${err.message}`);
      throw err;
    }
    return { ...outcome, maskUri: outputUri };
  }

  /** Loads the alias's current model ahead of requests (after a promotion); no-op when loaded. */
  async refresh(alias: string): Promise<string | null> {
    try {
      const model = await this.acquire(alias);
      this.release(model);
      return model.modelId;
    } catch (err) {
      if (err instanceof ServingError && err.status === 404) return null;
      throw err;
    }
  }

  /** The model each alias serves now (loaded ones only). */
  loadedModels(): { alias: string; modelId: string }[] {
    return [...this.current].map(([alias, { loaded }]) => ({ alias, modelId: loaded.modelId }));
  }

  /** Releases every session (waits for nothing: call after the server stopped taking requests). */
  async close(): Promise<void> {
    const all = new Set([...this.loadedById.values()]);
    this.current.clear();
    this.loadedById.clear();
    for (const l of all) await l.runner.release().catch(() => undefined);
  }

  private async acquire(alias: string): Promise<Loaded> {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(alias)) throw new ServingError(400, "bad_alias", `"${alias}" is not an alias name`);
    const holder = await this.catalog.aliasHolder(alias);
    if (!holder) throw new ServingError(404, "unknown_alias", `no model holds alias "${alias}" (no promotion has moved it yet)`);
    const held = this.current.get(alias);
    if (held && held.loaded.modelId === holder.model_id) {
      held.loaded.active++;
      return held.loaded;
    }
    const loaded = await this.load(holder.model_id);
    // Another request may have switched the alias meanwhile; the newest move wins.
    const now = this.current.get(alias);
    let chosen = loaded;
    if (!now || now.moveId < holder.id) {
      this.current.set(alias, { moveId: holder.id, loaded });
      if (now && now.loaded !== loaded) this.retireIfUnused(now.loaded);
      this.deps.log.info("alias now served by model", { alias, modelId: loaded.modelId, previousModelId: now?.loaded.modelId ?? null });
    } else {
      chosen = now.loaded;
      this.retireIfUnused(loaded);
    }
    chosen.active++;
    return chosen;
  }

  private release(model: Loaded): void {
    model.active--;
    if (model.retired && model.active === 0) {
      void model.runner.release().catch((err: unknown) => this.deps.log.warn("could not release model session", { modelId: model.modelId, error: String(err) }));
    }
  }

  /** Retires a model no alias points at; its session goes when its last request ends. */
  private retireIfUnused(model: Loaded): void {
    for (const { loaded } of this.current.values()) if (loaded === model) return;
    if (model.retired) return;
    model.retired = true;
    if (this.loadedById.get(model.modelId) === model) this.loadedById.delete(model.modelId);
    if (model.active === 0) {
      model.active = 1;
      this.release(model);
    }
  }

  private load(modelId: string): Promise<Loaded> {
    const have = this.loadedById.get(modelId);
    if (have) return Promise.resolve(have);
    let pending = this.loading.get(modelId);
    if (!pending) {
      pending = this.open(modelId).finally(() => this.loading.delete(modelId));
      this.loading.set(modelId, pending);
    }
    return pending;
  }

  private async open(modelId: string): Promise<Loaded> {
    const row = await this.catalog.getModel(modelId);
    if (!row) throw new ServingError(404, "model_not_found", `model ${modelId} is not registered`);
    const modelUri = joinUri(row.uri, "model.onnx");
    let runner: LoadedModel;
    try {
      const card = parseModelCard(row.card);
      if (!(await this.deps.store.head(modelUri))) throw new ServingError(404, "model_not_found", `model ${modelId} has no model.onnx at ${modelUri}`);
      const modelBytes = await this.deps.store.get(modelUri);
      runner = await this.deps.loadModel({ card, modelBytes, ...(this.deps.executionProviders ? { executionProviders: this.deps.executionProviders } : {}) });
    } catch (err) {
      if (err instanceof PermanentError) throw new ServingError(503, err.code, `model ${modelId} cannot be served: ${err.message}`);
      throw err;
    }
    this.loads++;
    this.deps.log.info("model loaded for serving", { modelId, executionProvider: runner.executionProvider });
    const loaded: Loaded = { modelId, runner, active: 0, retired: false };
    this.loadedById.set(modelId, loaded);
    return loaded;
  }

  private async normalise(bytes: Uint8Array, fileName: string): Promise<NormalisedOutput> {
    const normaliser = await this.deps.normaliser();
    return normaliser.normalise(bytes, fileName, this.deps.normaliseOptions);
  }
}

async function decodeImages(out: NormalisedOutput, codec: ImageCodec): Promise<ItemImages> {
  const images: ItemImages = {};
  for (const image of out.images) images[image.role] = await codec.decodePng(image.png);
  return images;
}

function tooLarge(size: number, max: number): ServingError {
  return new ServingError(413, "too_large", `the input is ${size} bytes; predictions accept at most PREDICT_MAX_BYTES=${max}`);
}

/** Normaliser and model refusals become 400 (413 for size limits); anything else stays a 500. */
function asServingError(err: unknown): unknown {
  if (err instanceof ServingError) return err;
  if (err instanceof PermanentError) {
    if (TOO_LARGE_CODES.has(err.code)) return new ServingError(413, err.code, err.message);
    if (err.code === "inference_failed" || err.code === "bad_model_output") return new ServingError(500, err.code, err.message);
    if (err.code === "unsupported_task" || err.code === "too_many_classes") return new ServingError(422, err.code, err.message);
    return new ServingError(400, err.code, err.message);
  }
  return err;
}
