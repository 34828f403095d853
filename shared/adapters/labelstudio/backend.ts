import type { Config } from "../../config/load.ts";
import type { AnnotationBackend, FetchedLabel, LabelRef, PrelabelRequest, RegistrationJobLedger, RegistrationRequest, RegistrationResult } from "../../ports.ts";
import { memoryRegistrationLedger } from "../annotation/memory-ledger.ts";
import { createContext, createLabelStudioClient, labelStudioSettings, type LabelStudioClientDeps } from "./context.ts";
import { fetchLabels } from "./labels.ts";
import { DEFAULT_POLL_OPTIONS, pollFinished, type PollOptions, type SeenAnnotations } from "./poll.ts";
import { sendPrelabel } from "./prelabel.ts";
import { registerItems } from "./register.ts";

export interface LabelStudioBackendDeps extends LabelStudioClientDeps {
  poll?: Partial<PollOptions>;
}

/**
 * The Label Studio `AnnotationBackend` (docs/labelstudio.md): tasks imported once per batch
 * (register.ts), finished annotations found by a window and a paged sweep (poll.ts), brushes
 * decoded from Label Studio's RLE (labels.ts), pre-labels sent as predictions (prelabel.ts).
 * Construction does no I/O; the project is looked up (or created) on first use.
 */
export function createLabelStudioBackend(config: Config, deps: LabelStudioBackendDeps): AnnotationBackend {
  const settings = labelStudioSettings(config);
  const ctx = createContext(createLabelStudioClient(config, deps), settings, deps);
  const options = { ...DEFAULT_POLL_OPTIONS, ...deps.poll };
  const ownLedger = memoryRegistrationLedger(() => deps.clock.now());
  // What the last poll read, for the fetch that follows it (cleared by each poll: bounded).
  const seen: SeenAnnotations = new Map();
  // Tasks this instance registered, so a pre-label right after needs no lookup.
  const taskIds = new Map<string, number>();
  return {
    name: "labelstudio",
    register: async (items: readonly RegistrationRequest[], jobs?: RegistrationJobLedger): Promise<RegistrationResult[]> => {
      const results = await registerItems(ctx, items, jobs ?? ownLedger);
      for (const r of results) if (r.ok && taskIds.size < 100_000) taskIds.set(r.itemId, Number(r.backendRef));
      return results;
    },
    poll: (cursor: string | null): Promise<{ refs: LabelRef[]; nextCursor: string | null }> => {
      seen.clear();
      return pollFinished(ctx, cursor, options, seen);
    },
    fetchLabels: (refs: readonly LabelRef[]): Promise<FetchedLabel[]> => fetchLabels(ctx, refs, seen),
    prelabel: (request: PrelabelRequest): Promise<void> => sendPrelabel(ctx, request, taskIds),
  };
}
