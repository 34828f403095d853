import type * as z from "zod";
import { CommandSchema } from "./commands.ts";
import {
  AnnotationsAcceptedSchema, DatasetVersionCreatedSchema, EvaluationCompletedSchema, EvaluationFailedSchema,
  ItemDuplicateSchema, ItemFailedSchema, PredictionCompletedSchema, PredictionFailedSchema, ItemNormalisedSchema, ItemsRegisteredSchema, ModelPromotedSchema, ObjectFinalizedSchema,
  PromotionReviewRequestedSchema, TickSchema, TrainingCompletedSchema, TrainingFailedSchema, TrainingStartedSchema,
} from "./events.ts";

/**
 * The one typed map from message type to its data schema and topic. Publishers and consumers both
 * read it, so a message can only be built and parsed one way.
 */
export const MESSAGES = {
  "object.finalized": { topic: "object-finalized", schema: ObjectFinalizedSchema },
  "item.normalised": { topic: "item-normalised", schema: ItemNormalisedSchema },
  // On the same topic: both say "ingest is done with this upload".
  "item.duplicate": { topic: "item-normalised", schema: ItemDuplicateSchema },
  "items.registered": { topic: "items-registered", schema: ItemsRegisteredSchema },
  "item.failed": { topic: "item-failed", schema: ItemFailedSchema },
  "annotations.accepted": { topic: "annotations-accepted", schema: AnnotationsAcceptedSchema },
  "poll.tick": { topic: "poll-tick", schema: TickSchema },
  "threshold.tick": { topic: "threshold-tick", schema: TickSchema },
  "reconcile.tick": { topic: "reconcile-tick", schema: TickSchema },
  "dataset.version_created": { topic: "dataset-version-created", schema: DatasetVersionCreatedSchema },
  "training.started": { topic: "training-started", schema: TrainingStartedSchema },
  "training.completed": { topic: "training-completed", schema: TrainingCompletedSchema },
  "training.failed": { topic: "training-completed", schema: TrainingFailedSchema },
  "evaluation.completed": { topic: "evaluation-completed", schema: EvaluationCompletedSchema },
  "evaluation.failed": { topic: "evaluation-completed", schema: EvaluationFailedSchema },
  "model.promoted": { topic: "model-promoted", schema: ModelPromotedSchema },
  "promotion.review_requested": { topic: "model-promoted", schema: PromotionReviewRequestedSchema },
  command: { topic: "commands", schema: CommandSchema },
  // Published by the predict job (a batch started by the `predict` command).
  "prediction.completed": { topic: "prediction-completed", schema: PredictionCompletedSchema },
  "prediction.failed": { topic: "prediction-completed", schema: PredictionFailedSchema },
} as const satisfies Record<string, { topic: string; schema: z.ZodType }>;

export type MessageType = keyof typeof MESSAGES;
export type MessageData<T extends MessageType> = z.infer<(typeof MESSAGES)[T]["schema"]>;
export type TopicName = (typeof MESSAGES)[MessageType]["topic"];

export const MESSAGE_TYPES = Object.keys(MESSAGES) as MessageType[];
export const TOPICS = [...new Set(Object.values(MESSAGES).map((m) => m.topic))] as TopicName[];

export function isMessageType(type: string): type is MessageType {
  return Object.hasOwn(MESSAGES, type);
}

export function topicFor(type: MessageType): TopicName {
  return MESSAGES[type].topic;
}

/**
 * Which consumer (a function in the cloud, a subscriber in the local runtime) receives which
 * message types. Each consumer keeps its own inbox, so one message reaches each at most once.
 */
export const SUBSCRIPTIONS = {
  ingest: ["object.finalized"],
  // item.failed and item.duplicate too: either may have been the last upload of a burst the others wait for.
  register: ["item.normalised", "item.failed", "item.duplicate"],
  poll: ["poll.tick"],
  threshold: ["annotations.accepted", "threshold.tick"],
  "on-training-completed": ["training.completed", "training.failed"],
  promote: ["evaluation.completed", "evaluation.failed"],
  // The function that starts a batch prediction also records how it ended.
  command: ["command", "prediction.completed", "prediction.failed"],
  reconcile: ["reconcile.tick"],
  // Pre-labels each registered item; a promotion or a tick backfills those registered before a model.
  prelabel: ["items.registered", "model.promoted", "reconcile.tick"],
} as const satisfies Record<string, readonly MessageType[]>;

export type ConsumerName = keyof typeof SUBSCRIPTIONS;
export const CONSUMER_NAMES = Object.keys(SUBSCRIPTIONS) as ConsumerName[];

export function consumersOf(type: MessageType): ConsumerName[] {
  return CONSUMER_NAMES.filter((c) => (SUBSCRIPTIONS[c] as readonly string[]).includes(type));
}
