import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../shared/config/load.ts";
import { memoryLogger, randomIds } from "../../shared/adapters/basics.ts";
import { LocalObjectStore } from "../../shared/adapters/store/local.ts";
import { sharpCodec } from "../../shared/adapters/imaging/codec.ts";
import type { Envelope } from "../../shared/messages/envelope.ts";
import type {
  AnnotationBackend, Clock, Db, Deps, ItemPredictor, JobLaunchRequest, JobRunner, JobStatus, Normaliser, Notification, Notifier, Publisher,
} from "../../shared/ports.ts";
import { createTestDb } from "./db.ts";

/** Records what was published; tests deliver messages themselves. */
export class MemoryPublisher implements Publisher {
  readonly messages: Envelope[] = [];
  async publish(envelope: Envelope): Promise<void> {
    this.messages.push(envelope);
  }
  ofType(type: string): Envelope[] {
    return this.messages.filter((m) => m.type === type);
  }
}

/** A job runner whose executions the test finishes by hand. */
export class FakeJobRunner implements JobRunner {
  readonly launches: (JobLaunchRequest & { executionName: string })[] = [];
  readonly statuses = new Map<string, JobStatus>();
  failLaunch: Error | null = null;
  async launch(request: JobLaunchRequest): Promise<{ executionName: string }> {
    if (this.failLaunch) throw this.failLaunch;
    const executionName = `exec-${request.job}-${this.launches.length + 1}`;
    this.launches.push({ ...request, executionName });
    this.statuses.set(executionName, { state: "running", timedOut: false, message: null, finishedAt: null });
    return { executionName };
  }
  async status(executionName: string): Promise<JobStatus> {
    return this.statuses.get(executionName) ?? { state: "unknown", timedOut: false, message: null, finishedAt: null };
  }
  async cancel(executionName: string): Promise<void> {
    this.statuses.set(executionName, { state: "cancelled", timedOut: false, message: null, finishedAt: null });
  }
  /** Ends an execution; `details` adds what a real runner reports (termination, exitCode, message). */
  finish(executionName: string, state: JobStatus["state"], timedOut = false, details: Partial<JobStatus> = {}): void {
    this.statuses.set(executionName, { state, timedOut, message: null, finishedAt: new Date().toISOString(), ...details });
  }
}

export class MemoryNotifier implements Notifier {
  readonly sent: Notification[] = [];
  async post(n: Notification): Promise<void> {
    this.sent.push(n);
  }
}

export interface TestDeps {
  deps: Deps;
  db: Db;
  store: LocalObjectStore;
  publisher: MemoryPublisher;
  jobs: FakeJobRunner;
  notifier: MemoryNotifier;
  log: ReturnType<typeof memoryLogger>;
  workspace: string;
  close(): Promise<void>;
}

/**
 * Deps for use-case tests: a real isolated database, a folder object store in a temp workspace,
 * and recording fakes for the publisher, job runner and notifier.
 */
export async function createTestDeps(options: {
  env?: Record<string, string>;
  backend?: AnnotationBackend;
  normaliser?: Normaliser;
  clock?: Clock;
  /** An already created database (e.g. one migrated to an older layout first). */
  db?: Db;
  /** Pre-labelling's predictor (default: the real one, onnxruntime on the models in the store). */
  predictor?: ItemPredictor;
} = {}): Promise<TestDeps> {
  const workspace = mkdtempSync(join(tmpdir(), "mlops-test-"));
  const config = loadConfig({ MLOPS_WORKSPACE: workspace, ...options.env });
  const db = options.db ?? (await createTestDb());
  const store = new LocalObjectStore(join(workspace, "buckets"));
  const publisher = new MemoryPublisher();
  const jobs = new FakeJobRunner();
  const notifier = new MemoryNotifier();
  const log = memoryLogger();
  const deps: Deps = {
    config,
    db,
    store,
    publisher,
    jobs,
    notifier,
    clock: options.clock ?? { now: () => new Date() },
    ids: randomIds,
    log,
    backend: async () => {
      if (options.backend) return options.backend;
      const { createInboxBackend } = await import("../../shared/adapters/annotation/inbox-backend.ts");
      return createInboxBackend({ store, config, log });
    },
    normaliser: async () => options.normaliser ?? (await import("../../shared/adapters/imaging/normaliser.ts")).createNormaliser(),
    codec: async () => sharpCodec,
    predictor: () => (predictor ??= options.predictor
      ? Promise.resolve({ predictImages: options.predictor.predictImages.bind(options.predictor), close: async () => undefined })
      : import("../../shared/serving/item-predictor.ts").then((m) => m.createItemPredictor({ db, store, log, tileSize: config.serving.tileSize }))),
  };
  let predictor: Promise<ItemPredictor & { close(): Promise<void> }> | undefined;
  return {
    deps, db, store, publisher, jobs, notifier, log, workspace,
    async close() {
      if (predictor) await (await predictor).close();
      await db.close();
      rmSync(workspace, { recursive: true, force: true });
    },
  };
}
