import * as z from "zod";

/**
 * The envelope of every message. `id` is ours (not Pub/Sub's message id) so a message republished
 * by `reconcile` is still recognised as the same message by every consumer's inbox.
 */
export const EnvelopeSchema = z.object({
  id: z.string().min(1).max(200),
  type: z.string().min(1).max(100),
  version: z.number().int().positive(),
  occurredAt: z.iso.datetime({ offset: true }),
  correlationId: z.string().min(1).max(200),
  /** The id of the message that caused this one, for tracing a chain of effects. */
  causationId: z.string().max(200).optional(),
  data: z.unknown(),
});

export type Envelope<T = unknown> = Omit<z.infer<typeof EnvelopeSchema>, "data"> & { data: T };
