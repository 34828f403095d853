import type { FakeEncordState, FakeIntegration, FakeStage } from "./encord-state.ts";

/** Options, test controls and label targets of the fake Encord server (see encord-server.ts). */

export interface FakeEncordOptions {
  publicKeyHex: string;
  projectHash?: string;
  projectTitle?: string;
  datasetHash?: string;
  datasetTitle?: string;
  integration?: FakeIntegration;
  /** Further integrations listed next to the configured one. */
  otherIntegrations?: FakeIntegration[];
  /** Workflow stages in order (default: Annotate 1, Review 1, Complete, Archive). */
  stages?: FakeStage[];
  /** The project's editor ontology; default: `fakeEditorOntology(classNames)` when classNames is given, else the seed's. */
  ontology?: unknown;
  classNames?: string[];
  /** The server's clock (signature freshness, timestamps). */
  now?: () => Date;
  /** How old a v2 signature's `created` may be. Default 300 s. */
  maxSignatureAgeSeconds?: number;
  /** Attach the dataset to the project at start (as an operator would have). Default false. */
  datasetAttached?: boolean;
}

export interface FailureRule {
  /** A path fragment (`data-upload-jobs`), a v1 query type (`labelrow`), or a predicate. */
  match: string | ((req: { method: string; path: string; queryType?: string }) => boolean);
  /** HTTP status to answer with (default 503 unless `v1Code` is set). */
  status?: number;
  /** `Retry-After` header value. */
  retryAfter?: number | string;
  /** Answer a v1 call with this code in a 200 body instead. */
  v1Code?: string;
  v1Payload?: unknown;
  /** The `status` inside that v1 body (default 400). */
  v1Status?: number;
  /** How many matching requests fail (default 1). */
  times?: number;
  /** Wait this long before answering (to provoke client timeouts). */
  hangMs?: number;
}

/** What a label builder learns about a row. */
export interface LabelTarget {
  dataHash: string;
  labelHash: string;
  itemUuid: string;
  title: string;
  dataType: "IMAGE" | "IMG_GROUP";
  /** Our client metadata (`{itemId, contentSha256}`). */
  clientMetadata: Record<string, unknown>;
  /** Object URLs in registration order (RGB then NIR for products). */
  urls: string[];
  datasetHash: string;
}

export interface CompleteOptions {
  /**
   * Edit time; default the server clock (strictly increasing across calls). A string in Encord's
   * form (`2024-05-01T12:00:00.123456`, UTC) is used verbatim, keeping its microseconds.
   */
  editedAt?: Date | string;
  annotator?: string;
  /** Default: the project's DONE stage named "Complete" (or the first DONE stage). */
  stage?: string;
}

export interface FakeEncord {
  url: string;
  state: FakeEncordState;
  close(): Promise<void>;
  /** Env for `loadConfig` pointing the encord backend at this fake. */
  env(extra?: Record<string, string>): Record<string, string>;
  /** Completes one row; `target` is a data hash, storage item uuid, title or our itemId. Returns the label hash. */
  completeLabel(target: string, labelRow: Record<string, unknown> | ((t: LabelTarget) => Record<string, unknown>), options?: CompleteOptions): string;
  /** Completes every row not yet in the Complete stage; a builder returning null skips that row. Returns how many. */
  completeAll(build: (t: LabelTarget) => Record<string, unknown> | null, options?: Omit<CompleteOptions, "editedAt">): number;
  labelTargets(): LabelTarget[];
  /** Moves a row's task to a stage without touching its label (`last_edited_at` stays). */
  moveToStage(target: string, stage: string): void;
  /** A reviewer approves a row in a review stage without editing it: it moves to Complete, its edit time unchanged. */
  approve(target: string): void;
  /** Sends a row back to the first annotation stage (to be completed again with `completeLabel`). */
  reopen(target: string): void;
  /** Runs `fn` once, right after the fake answered the first request that `match`es (to act "during" a client's work). */
  afterRequest(match: (req: { method: string; path: string; queryType?: string; payload?: unknown }) => boolean, fn: () => void): void;
  failNext(rule: FailureRule): void;
  /** Drops injected failures not yet used. */
  clearFailures(): void;
  setLabelRowLimit(max: number | null, options?: { advertise?: boolean }): void;
  /** Finishes every pending upload job now (and stops holding them). */
  settleUploadJobs(): void;
  /** Keeps every upload job PENDING, however often it is polled, until `settleUploadJobs`. */
  holdUploadJobs(): void;
  /** Makes registration of this URL fail with a unit error. */
  breakUrl(url: string, error?: string): void;
  duplicateUrls(): string[];
}
