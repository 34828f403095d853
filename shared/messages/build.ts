import { PermanentError } from "../errors.ts";
import { EnvelopeSchema, type Envelope } from "./envelope.ts";
import { MESSAGES, isMessageType, type MessageData, type MessageType } from "./topics.ts";

export interface EnvelopeContext {
  id: string;
  occurredAt: Date;
  correlationId?: string;
  causationId?: string;
}

/** Builds a validated envelope. Throws if `data` does not match the type's schema (a bug). */
export function buildEnvelope<T extends MessageType>(
  type: T,
  data: MessageData<T>,
  ctx: EnvelopeContext,
): Envelope<MessageData<T>> {
  const parsed = MESSAGES[type].schema.parse(data) as MessageData<T>;
  const envelope: Envelope<MessageData<T>> = {
    id: ctx.id,
    type,
    version: 1,
    occurredAt: ctx.occurredAt.toISOString(),
    correlationId: ctx.correlationId ?? ctx.id,
    data: parsed,
  };
  if (ctx.causationId) envelope.causationId = ctx.causationId;
  return envelope;
}

export type ParsedMessage = { [T in MessageType]: Envelope<MessageData<T>> & { type: T } }[MessageType];

/**
 * Parses an untrusted envelope and its data. A malformed message is a PermanentError: retrying
 * cannot fix it, so consumers record and acknowledge it.
 */
export function parseEnvelope(raw: unknown): ParsedMessage {
  const env = EnvelopeSchema.safeParse(raw);
  if (!env.success) {
    throw new PermanentError("malformed_envelope", `malformed message envelope: ${summariseIssues(env.error.issues)}`);
  }
  const type = env.data.type;
  if (!isMessageType(type)) {
    throw new PermanentError("unknown_type", `unknown message type "${type}"`);
  }
  const data = MESSAGES[type].schema.safeParse(env.data.data);
  if (!data.success) {
    throw new PermanentError("malformed_data", `malformed ${type} data: ${summariseIssues(data.error.issues)}`);
  }
  return { ...env.data, type, data: data.data } as ParsedMessage;
}

export function summariseIssues(issues: readonly { path: readonly PropertyKey[]; message: string }[]): string {
  return issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.map(String).join(".") : "(root)"}: ${i.message}`)
    .join("; ");
}
