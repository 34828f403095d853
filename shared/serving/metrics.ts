import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { readLoopGauges } from "../db/queries/metrics.ts";
import type { Logger, Queryable } from "../ports.ts";

/**
 * The Prometheus registry behind `GET /metrics` (local runtime and `serve`). Loop state (items,
 * dead letters, job runs, drift) is read from the database at scrape time, so every process that
 * serves `/metrics` reports the same numbers; counters of what this process did (predictions,
 * local deliveries) are kept in memory and start at 0 with the process, as Prometheus expects.
 */

/** Latest drift check, as `/metrics` shows it. */
export interface DriftGaugeSource {
  features: { name: string; psi: number | null; ks: number | null; drifted: boolean }[];
  drifted: boolean;
}

export interface ServingMetricsOptions {
  db: Queryable;
  log?: Logger;
  /** Reads the latest drift check (null: none yet). */
  readDrift?: () => Promise<DriftGaugeSource | null>;
}

export type DeliveryOutcome = "delivered" | "retried" | "dead";

export class ServingMetrics {
  readonly registry = new Registry();
  readonly contentType: string;
  private readonly items: Gauge;
  private readonly oldest: Gauge;
  private readonly deadLetters: Gauge;
  private readonly jobRuns: Gauge;
  private readonly deliveries: Counter;
  private readonly predictions: Counter;
  private readonly latency: Histogram;
  private readonly driftPsi: Gauge;
  private readonly driftKs: Gauge;
  private readonly driftFeature: Gauge;
  private readonly drifted: Gauge;
  private readonly scrapeErrors: Counter;

  constructor(private readonly options: ServingMetricsOptions) {
    const registers = [this.registry];
    this.contentType = this.registry.contentType;
    this.items = new Gauge({ name: "mlops_items", help: "Items in each state now (status counters)", labelNames: ["state"], registers });
    this.oldest = new Gauge({
      name: "mlops_item_oldest_age_seconds", help: "Seconds since the longest-waiting item entered each state (absent when the state is empty)",
      labelNames: ["state"], registers,
    });
    this.deadLetters = new Gauge({ name: "mlops_dead_letters", help: "Dead letters retained, per consumer", labelNames: ["consumer"], registers });
    this.jobRuns = new Gauge({ name: "mlops_job_runs", help: "Training runs, evaluations and batch predictions per state", labelNames: ["job", "state"], registers });
    this.deliveries = new Counter({
      name: "mlops_deliveries_total", help: "Message deliveries by this process, per consumer and outcome (delivered, retried, dead)",
      labelNames: ["consumer", "outcome"], registers,
    });
    this.predictions = new Counter({ name: "mlops_predictions_total", help: "Prediction requests per alias, model and HTTP status", labelNames: ["alias", "model", "status"], registers });
    this.latency = new Histogram({
      name: "mlops_prediction_duration_seconds", help: "Prediction request latency (body read, normalise, inference, mask encode)",
      labelNames: ["alias"], buckets: [0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers,
    });
    this.driftPsi = new Gauge({ name: "mlops_drift_psi", help: "Population stability index of each feature, recent window vs reference", labelNames: ["feature"], registers });
    this.driftKs = new Gauge({ name: "mlops_drift_ks_statistic", help: "Two-sample Kolmogorov-Smirnov statistic of each feature", labelNames: ["feature"], registers });
    this.driftFeature = new Gauge({ name: "mlops_drift_feature_drifted", help: "1 when the feature drifted at the last check", labelNames: ["feature"], registers });
    this.drifted = new Gauge({ name: "mlops_drift_drifted", help: "1 when the last drift check found drift, 0 otherwise (also before the first check)", registers });
    this.scrapeErrors = new Counter({ name: "mlops_metrics_scrape_errors_total", help: "Scrapes whose database read failed (gauges kept their last values)", registers });
  }

  observePrediction(alias: string, modelId: string, status: number, seconds: number): void {
    this.predictions.inc({ alias, model: modelId, status: String(status) });
    this.latency.observe({ alias }, seconds);
  }

  countDelivery(consumer: string, outcome: DeliveryOutcome): void {
    this.deliveries.inc({ consumer, outcome });
  }

  /** Refreshes the database gauges and renders the text exposition format. */
  async render(): Promise<string> {
    try {
      await this.refresh();
    } catch (err) {
      this.scrapeErrors.inc();
      this.options.log?.warn("metrics: could not read the database", { error: String(err) });
    }
    return this.registry.metrics();
  }

  private async refresh(): Promise<void> {
    const g = await readLoopGauges(this.options.db);
    for (const [state, n] of Object.entries(g.items)) this.items.set({ state }, n);
    this.oldest.reset();
    for (const [state, age] of Object.entries(g.oldestAgeSeconds)) if (age !== null) this.oldest.set({ state }, age);
    this.deadLetters.reset();
    for (const [consumer, n] of Object.entries(g.deadLetters)) this.deadLetters.set({ consumer }, n);
    this.jobRuns.reset();
    for (const r of g.jobRuns) this.jobRuns.set({ job: r.job, state: r.state }, r.count);
    const drift = this.options.readDrift ? await this.options.readDrift() : null;
    this.driftPsi.reset();
    this.driftKs.reset();
    this.driftFeature.reset();
    this.drifted.reset();
    if (drift) {
      this.drifted.set(drift.drifted ? 1 : 0);
      for (const f of drift.features) {
        if (f.psi !== null) this.driftPsi.set({ feature: f.name }, f.psi);
        if (f.ks !== null) this.driftKs.set({ feature: f.name }, f.ks);
        this.driftFeature.set({ feature: f.name }, f.drifted ? 1 : 0);
      }
    }
  }
}
