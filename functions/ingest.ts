/**
 * ingest — GCS `object.finalized` on the archive bucket (Eventarc, retries on), and pushes on the
 * `object-finalized` topic (backfill and reprocess commands). Normalises the upload into the
 * annotation bucket and records the item.
 * Thin by design: decode the delivery, run the use case, acknowledge or throw for a retry
 * (see shared/runtime/function-handler.ts).
 */
import * as ff from "@google-cloud/functions-framework";
import { consumerFunction } from "../shared/runtime/gcp.ts";

// Only ingest decodes products: sharp and geotiff are loaded here, on the first upload.
ff.cloudEvent("ingest", consumerFunction("ingest", { normaliser: async () => (await import("../shared/adapters/imaging/normaliser.ts")).createNormaliser() }));
