import type { ParsedMessage } from "../messages/build.ts";
import type { ConsumerName } from "../messages/topics.ts";
import type { Deps } from "../ports.ts";

export interface ConsumerOutcome {
  /** `done`: the effect happened; `duplicate`: already processed; `skipped`: nothing to do. */
  status: "done" | "duplicate" | "skipped";
  detail?: string;
}

/**
 * Runs the use case a consumer stands for. Every consumer is idempotent: a message it has seen
 * (inbox) or an effect already in place (state guard) makes it return `duplicate`.
 */
export async function runConsumer(consumer: ConsumerName, message: ParsedMessage, deps: Deps): Promise<ConsumerOutcome> {
  void message;
  void deps;
  throw new Error(`consumer ${consumer} is not wired yet`);
}
