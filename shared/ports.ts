/**
 * The small interfaces use cases depend on. Use cases receive them in a `deps` parameter; the
 * composition roots in `shared/runtime/` build real ones (GCP or local) and tests pass fakes.
 * Nothing here imports an SDK.
 */
import type { Config } from "./config/load.ts";
import type { CanonicalAnnotation } from "./core/annotation/canonical.ts";
import type { ItemImages } from "./core/evaluation/types.ts";
import type { Prediction } from "./core/serving/predict.ts";
import type { Envelope } from "./messages/envelope.ts";

// ---------------------------------------------------------------------------------------------
// Database

export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

/** Anything that runs a parameterised statement: the pool itself or an open transaction. */
export interface Queryable {
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly kind: "pg" | "pglite";
  /**
   * Runs `fn` in one transaction (READ COMMITTED). Serialisation failures and deadlocks are
   * retried by the adapter a few times before surfacing as a TransientError.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Object storage. Objects are addressed by `gs://bucket/name` URIs in both runtimes; the local
// adapter maps a bucket to a folder.

export interface ObjectInfo {
  uri: string;
  bucket: string;
  name: string;
  size: number;
  /** GCS generation (a decimal string: it can exceed 2^53). */
  generation: string;
  contentType: string | undefined;
  /** Base64 MD5 of the content, as GCS reports it. */
  md5Hash: string | undefined;
  updated: string;
}

export interface PutOptions {
  contentType?: string;
  /** Only write when the object does not exist yet (GCS `ifGenerationMatch: 0`). */
  ifAbsent?: boolean;
}

export interface ObjectStore {
  get(uri: string): Promise<Buffer>;
  /**
   * Up to `length` bytes of the object from byte `offset` on: fewer only where the object ends
   * (none at or past its end). Lets large uploads be read piecewise, in bounded memory.
   */
  readRange(uri: string, offset: number, length: number): Promise<Buffer>;
  put(uri: string, body: Uint8Array | string, options?: PutOptions): Promise<ObjectInfo>;
  head(uri: string): Promise<ObjectInfo | null>;
  list(prefixUri: string): Promise<ObjectInfo[]>;
  delete(uri: string): Promise<void>;
  /** Streams an object to a local file (jobs use this for large artefacts). */
  download(uri: string, localPath: string): Promise<void>;
  /** Streams a local file to an object. */
  upload(localPath: string, uri: string, options?: PutOptions): Promise<ObjectInfo>;
  /** A URL a browser or the annotation tool can fetch without credentials. */
  signedUrl(uri: string, options?: { expiresInSeconds?: number }): Promise<string>;
  /** Streams an object's bytes, so large documents (manifests) are never held whole. */
  getStream(uri: string): AsyncIterable<Uint8Array>;
  /**
   * Streams `source` into an object named after the SHA-256 of its bytes: `uriFor(sha256)`.
   * The bytes go to a temporary object first and only a complete object gets the final name; if
   * `source` throws, nothing is left behind. Same-bucket only (`uriFor`'s bucket).
   */
  putAddressed(source: AsyncIterable<Uint8Array>, uriFor: (sha256: string) => string, options?: PutOptions): Promise<{ info: ObjectInfo; sha256: string }>;
}

// ---------------------------------------------------------------------------------------------
// Messaging

/** Publishes an envelope to the topic its `type` maps to (see `shared/messages/topics.ts`). */
export interface Publisher {
  publish(envelope: Envelope): Promise<void>;
  /** Publishes several envelopes; adapters may batch. */
  publishAll?(envelopes: readonly Envelope[]): Promise<void>;
  /**
   * For a publisher that lives in the same database (the local runtime's delivery table): publish
   * inside the effect's transaction, so the outbox row is written already sent. Optional; the
   * cloud publisher publishes after commit instead.
   */
  publishWithin?(tx: Queryable, envelopes: readonly Envelope[]): Promise<void>;
  /** Called after a transaction that used `publishWithin` committed. */
  committed?(): void;
}

// ---------------------------------------------------------------------------------------------
// Annotation backend (local folder inbox, Encord)

export interface RegistrationImage {
  /** `rgb`, `nir` for products; `image` for plain images. */
  role: "rgb" | "nir" | "image";
  uri: string;
  width: number;
  height: number;
}

export interface RegistrationRequest {
  itemId: string;
  title: string;
  kind: "product" | "image";
  contentSha256: string;
  images: RegistrationImage[];
  /** Higher first: how soon annotators should see the item (backends that order their queue use it). */
  priority?: number;
}

export type RegistrationResult =
  | { itemId: string; ok: true; backendRef: string }
  | { itemId: string; ok: false; error: string; permanent: boolean };

/** An asynchronous registration job (an Encord upload job) as the ledger keeps it. */
export interface RegistrationJobRecord {
  /** Ours, given when the items were claimed. */
  id: string;
  /** The backend's job id, or null while the job is being started. */
  jobId: string | null;
  itemIds: string[];
  /** What resuming the job needs (e.g. the Encord folder it was started in). */
  detail: Record<string, unknown>;
  claimedAt: string;
}

/**
 * Where a backend keeps its registration jobs, so that a registration retried after its wait gave
 * up resumes waiting on the job it started instead of starting another. Each call is one
 * transaction; an item belongs to at most one open job (a database constraint, not a check).
 */
export interface RegistrationJobLedger {
  /** Open jobs (claimed or started) holding any of these items, oldest first. */
  open(itemIds: readonly string[]): Promise<RegistrationJobRecord[]>;
  /**
   * Claims items for a job about to be started, leaving out those held by another open job; a
   * claim whose job id was never recorded is taken over once older than `staleAfterSeconds`.
   * Null when none could be claimed.
   */
  claim(itemIds: readonly string[], detail: Record<string, unknown>, staleAfterSeconds: number): Promise<RegistrationJobRecord | null>;
  /** Records the backend's job id, the moment the backend returned it. */
  started(id: string, jobId: string): Promise<void>;
  /** The job's results were taken: its items are free again. */
  settle(id: string, outcome: string): Promise<void>;
  /** The job was refused or certainly never started: its items are free again. */
  abandon(id: string, reason: string): Promise<void>;
}

/** A finished label the backend knows about, before its content is fetched. */
export interface LabelRef {
  labelId: string;
  /** Our item id when the backend carries it (client metadata), else null. */
  itemId: string | null;
  /** The backend's own id for the data (Encord storage item / data hash; local file name). */
  backendRef: string | null;
  title: string | null;
  /** When the label was last edited: with `labelId`, it names the revision (a new edit, a new revision). */
  editedAt: string;
  annotator: string | null;
}

export interface FetchedLabel {
  ref: LabelRef;
  /**
   * The label converted to the canonical annotation, or why it could not be. `notes` say what the
   * conversion left out on purpose (e.g. objects of shapes and classes that are not ours).
   */
  result:
    | { ok: true; annotation: CanonicalAnnotation; notes?: string[] }
    | { ok: false; error: string };
}

export interface AnnotationBackend {
  readonly name: "local" | "encord" | "labelstudio";
  /**
   * Registers items with the backend; idempotent for items registered before. A backend whose
   * registration runs as asynchronous jobs records them in `jobs` (an in-memory ledger when none is
   * given) and resumes them on a retry; items whose job is still running come back as non-permanent
   * failures, to be retried.
   */
  register(items: readonly RegistrationRequest[], jobs?: RegistrationJobLedger): Promise<RegistrationResult[]>;
  /**
   * Finished labels since `cursor` (the backend's own state, opaque to the caller). The refs may
   * repeat revisions returned by earlier polls — a backend that cannot tell "finished since"
   * exactly lists more, never less — and the caller skips revisions it has processed, a revision
   * being (backend, labelId, editedAt). `nextCursor` is stored only once the refs are processed.
   */
  poll(cursor: string | null): Promise<{ refs: LabelRef[]; nextCursor: string | null }>;
  /** Fetches and converts label content. Adapters chunk requests as their API requires. */
  fetchLabels(refs: readonly LabelRef[]): Promise<FetchedLabel[]>;
  /**
   * Sends a machine-made pre-label for a registered item, for annotators to correct, with the
   * item's labelling priority. Called again for an item after a crash (at least once): a backend
   * whose write is not idempotent says so. Optional: backends without pre-label support leave it out.
   */
  prelabel?(request: PrelabelRequest): Promise<void>;
}

export interface PrelabelMask {
  width: number;
  height: number;
  /** A class id per pixel, row-major, the item's size; values outside the ontology are unlabelled. */
  data: Uint8Array;
}

export interface PrelabelRequest {
  itemId: string;
  mask: PrelabelMask;
  /** The model that predicted it (Label Studio's `model_version`). */
  modelId: string;
  /** The mask as a class-id PNG in the annotation bucket (the local task file points at it). */
  maskUri: string;
  /** Higher first (shared/core/prelabel/priority.ts). */
  priority: number;
}

/** Predicts an item's stored renderings with the model behind an alias (pre-labelling). */
export interface ItemPredictor {
  /** Rejects (a 404 ServingError) when no model holds `alias`. */
  predictImages(alias: string, images: ItemImages, nodata: DecodedRaster | null): Promise<{ modelId: string; prediction: Prediction }>;
}

// ---------------------------------------------------------------------------------------------
// Jobs (Cloud Run jobs, local child processes)

export type JobName = "train" | "evaluate" | "predict";

export interface JobLaunchRequest {
  job: JobName;
  /** Our id for the run or evaluation; passed to the job as RUN_ID / EVALUATION_ID. */
  runId: string;
  env: Record<string, string>;
  timeoutSeconds?: number;
}

export type JobState = "pending" | "running" | "succeeded" | "failed" | "cancelled" | "unknown";

/**
 * How a finished execution that did not succeed ended, read from structured status (the last task
 * attempt's exit code or termination signal, the execution's condition reasons), not from text:
 * - `exited`: the container exited non-zero by itself (see `exitCode`; 143 = after SIGTERM);
 * - `timeout`: the task attempt ran past its timeout;
 * - `terminated`: the platform stopped it (host maintenance — GPU tasks are not live-migrated —,
 *   preemption, a runtime shutdown);
 * - `killed`: SIGKILL (the memory limit, or no exit within the grace period after SIGTERM);
 * - `refused`: the platform could not start the container (image missing, permission denied);
 * - `cancelled`, `lost` (nobody knows the execution any more).
 */
export type JobTermination = "exited" | "timeout" | "terminated" | "killed" | "refused" | "cancelled" | "lost";

export interface JobStatus {
  state: JobState;
  /** True when the execution ended because it hit its task timeout (resume it). */
  timedOut: boolean;
  message: string | null;
  finishedAt: string | null;
  /** Set when the execution finished without succeeding (absent: the runner could not tell). */
  termination?: JobTermination;
  /** The last task attempt's exit code, when the container exited by itself. */
  exitCode?: number | null;
  /** Task attempts the platform made beyond the first inside this execution. */
  retries?: number;
}

export interface JobRunner {
  /**
   * Rejects with a `PermanentError` when the platform refuses the launch for good (permissions, a
   * job that is not deployed, quota, an invalid request; the message names the fix), a
   * `TransientError` when a later try may work (UNAVAILABLE, DEADLINE_EXCEEDED, 429, 5xx, network).
   */
  launch(request: JobLaunchRequest): Promise<{ executionName: string }>;
  status(executionName: string): Promise<JobStatus>;
  cancel(executionName: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Notifications (Slack, console + file)

export interface NotificationAttachment {
  name: string;
  contentType: string;
  content: Uint8Array | string;
}

export interface Notification {
  severity: "info" | "warning" | "alert";
  /** Messages about one run share a thread (Slack `thread_ts`). */
  threadKey?: string;
  title: string;
  text: string;
  /**
   * Links shown with the message. A URL is absolute (http/https), a dashboard path (`/evaluations/…`,
   * resolved against DASHBOARD_URL) or a `gs://` object (shown through the dashboard's `/objects/…`).
   */
  links?: { label: string; url: string }[];
  attachments?: NotificationAttachment[];
  /** A decision a person can take from the message: Slack shows Approve / Reject buttons. */
  review?: { evaluationId: string };
}

export interface Notifier {
  post(notification: Notification): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Imaging (sharp, geotiff): lazily loaded so functions that do not need them never import them.

export interface NormaliseOptions {
  /** 1-based band indexes for the RGB PNG (e.g. [3, 2, 1] for B4-B3-B2 style ordering). */
  rgbBands: [number, number, number];
  /** 1-based band index for the NIR PNG, or null to skip it. */
  nirBand: number | null;
  /** Percentile stretch per band (e.g. [2, 98]); null maps the raw value range linearly. */
  stretchPercentiles: [number, number] | null;
  /** Overrides the nodata value declared in the GeoTIFF (GDAL_NODATA). */
  nodataValue: number | null;
  /** An image whose valid pixels all hold one value: a warning (default) or a PermanentError. */
  singleValueImages?: "warn" | "fail";
  /**
   * `raw` skips the PNG encoding and returns the same 8-bit planes in `raw` instead (`images` is
   * then empty): the model server's path, which would otherwise encode PNGs only to decode them.
   */
  output?: "png" | "raw";
  /** What one upload may cost; the normaliser's defaults (the config's) where left out. */
  limits?: Partial<NormaliseLimits>;
}

/** Bounds checked before anything is allocated, so hostile input fails with a reason, not an OOM. */
export interface NormaliseLimits {
  /** Most bytes a zip entry may inflate to, and most bytes of a plain image held whole. */
  maxInflatedBytes: number;
  /** Most pixels (width × height) of a raster or image. */
  maxRasterPixels: number;
  /** Most bands (samples per pixel) of a GeoTIFF. */
  maxRasterBands: number;
  /** Most bytes the decode allocates: bands read, mask, 8-bit outputs, PNGs, blocks in flight. */
  maxDecodeBytes: number;
}

/**
 * Random-access bytes, read piecewise (an object in the store, a file, a zip entry). `read` returns
 * up to `length` bytes from `offset`: fewer only where the source ends.
 */
export interface ByteSource {
  size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Lets go of bytes the source holds in memory (an inflated zip entry) once the caller has decoded
   * what it needs; reads after it fail. Sources that hold nothing leave it out.
   */
  release?(): void;
}

export interface NormalisedImage {
  role: "rgb" | "nir" | "image";
  png: Buffer;
}

export interface NormalisedOutput {
  kind: "product" | "image";
  /** Product name (zip stem / GeoTIFF stem) or the image stem. */
  productName: string;
  width: number;
  height: number;
  images: NormalisedImage[];
  /** 8-bit PNG, 255 where the source had nodata/NaN in any band, else 0. Null when none. */
  nodataMask: Buffer | null;
  nodataPixels: number;
  bandCount: number;
  /** What the normaliser accepted but flagged (e.g. `single_value: …`); stored on the item. */
  warnings?: string[];
  /**
   * Statistics of the 8-bit outputs per band (red, green, blue, nir) over valid pixels, and the
   * nodata share: the input drift features (shared/core/drift/stats.ts).
   */
  bandStats?: { bands: Partial<Record<"red" | "green" | "blue" | "nir", BandStats>>; nodataFraction: number };
  /** With `output: "raw"`: the planes the PNGs would hold (mask: 255 where nodata, null when none). */
  raw?: { rgb?: DecodedRaster; nir?: DecodedRaster; image?: DecodedRaster; nodata: DecodedRaster | null };
}

export type { BandStats } from "./core/drift/stats.ts";
import type { BandStats } from "./core/drift/stats.ts";

export interface Normaliser {
  /**
   * Reads the upload (bytes in memory, or a ByteSource read by ranges) in bounded memory. Throws
   * PermanentError with a code and a readable reason for corrupt, hostile or unsupported input.
   */
  normalise(input: Uint8Array | ByteSource, fileName: string, options: NormaliseOptions): Promise<NormalisedOutput>;
}

export interface DecodedRaster {
  width: number;
  height: number;
  channels: number;
  /** Interleaved 8-bit samples, row-major. */
  data: Uint8Array;
}

export interface ImageCodec {
  decodePng(png: Uint8Array): Promise<DecodedRaster>;
  /** Encodes 1 (grey), 3 (RGB) or 4 (RGBA) interleaved 8-bit channels. */
  encodePng(raster: DecodedRaster): Promise<Buffer>;
}

// ---------------------------------------------------------------------------------------------
// Small things

export interface Clock {
  now(): Date;
}

export interface IdGenerator {
  /** A new unique id with a readable prefix, e.g. `run_01J…`. */
  next(prefix: string): string;
}

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/** Everything a use case may touch. Heavy adapters are behind loaders so cold starts stay small. */
export interface Deps {
  config: Config;
  db: Db;
  store: ObjectStore;
  publisher: Publisher;
  backend: () => Promise<AnnotationBackend>;
  jobs: JobRunner;
  notifier: Notifier;
  normaliser: () => Promise<Normaliser>;
  codec: () => Promise<ImageCodec>;
  /** Pre-labelling's model runner (onnxruntime, loaded on first use); absent where not bundled. */
  predictor?: () => Promise<ItemPredictor>;
  clock: Clock;
  ids: IdGenerator;
  log: Logger;
}
