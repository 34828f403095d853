import type { Config } from "../../config/load.ts";
import { ontologyFromEncord, type Ontology } from "../../core/annotation/ontology.ts";
import type { AnnotationBackend, FetchedLabel, LabelRef, PrelabelRequest, RegistrationJobLedger, RegistrationRequest, RegistrationResult } from "../../ports.ts";
import { memoryRegistrationLedger } from "../annotation/memory-ledger.ts";
import { createContext, createEncordClient, encordSettings, explainAuthFailure, once, type EncordClientDeps } from "./context.ts";
import { fetchLabels } from "./labels.ts";
import { DEFAULT_POLL_OPTIONS, pollCompleteLabels, type PollOptions } from "./poll.ts";
import { sendEncordPrelabel } from "./prelabel.ts";
import { registerItems } from "./register.ts";

export interface EncordBackendDeps extends EncordClientDeps {
  /** How long one `register` call waits for its upload jobs (default 5 min, inside a function's time budget). */
  uploadJobMaxWaitMs?: number;
  /** The poll's sweep and edit-window sizes (see poll.ts). */
  poll?: Partial<PollOptions>;
}

/**
 * The Encord `AnnotationBackend`: registers items through storage-folder upload jobs from the GCS
 * integration (resumed, never doubled: register.ts), lists the Complete stage's labels by an edit
 * window and a paged sweep (poll.ts), and converts label rows to canonical annotations. Construction does no I/O; the key is read and lookups are made on first use, and
 * cached for the life of the instance.
 *
 * Auth failures surface as one `EncordAuthError` (a PermanentError) per operation, worded for an
 * operator, and the transport fails fast for a minute after one, so a bad key is one alert.
 */
export function createEncordBackend(config: Config, deps: EncordBackendDeps): AnnotationBackend {
  const settings = encordSettings(config);
  const { api } = createEncordClient(config, deps);
  const ctx = createContext(api, settings, deps);
  const ontology = once(async (): Promise<Ontology> => ontologyFromEncord((await ctx.project()).editorOntology, settings.classNames));
  const jobMaxWaitMs = deps.uploadJobMaxWaitMs ?? 5 * 60_000;
  // Without the database's ledger (the CLI, adapter tests) jobs are resumed within this instance only.
  const ownLedger = memoryRegistrationLedger(() => deps.clock.now());

  async function guarded<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw explainAuthFailure(err, operation);
    }
  }

  return {
    name: "encord",
    register: (items: readonly RegistrationRequest[], jobs?: RegistrationJobLedger): Promise<RegistrationResult[]> =>
      guarded("registration", () => registerItems(ctx, items, { jobMaxWaitMs, ledger: jobs ?? ownLedger })),
    poll: (cursor: string | null): Promise<{ refs: LabelRef[]; nextCursor: string | null }> =>
      guarded("poll", () => pollCompleteLabels(ctx, cursor, { ...DEFAULT_POLL_OPTIONS, ...deps.poll })),
    fetchLabels: (refs: readonly LabelRef[]): Promise<FetchedLabel[]> => guarded("label fetch", () => fetchLabels(ctx, ontology, refs)),
    prelabel: (request: PrelabelRequest): Promise<void> =>
      guarded("pre-label", async () => {
        const outcome = await sendEncordPrelabel(ctx, await ontology(), request);
        if (outcome === "kept_human_labels") ctx.log.info("Encord row already holds an annotator's objects; no pre-label written", { itemId: request.itemId });
      }),
  };
}
