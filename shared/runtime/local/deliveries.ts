import { EventEmitter } from "node:events";
import { describeError, TransientError } from "../../errors.ts";
import type { Envelope } from "../../messages/envelope.ts";
import { consumersOf, isMessageType, type ConsumerName } from "../../messages/topics.ts";
import { handleDelivery } from "../../core/delivery.ts";
import { recordDeadLetter } from "../../db/queries/dead-letters.ts";
import type { Db, Deps, Publisher, Queryable } from "../../ports.ts";
import { failpoint } from "../../core/failpoints.ts";

/**
 * The local runtime's Pub/Sub: publishing writes one `local_deliveries` row per subscribed
 * consumer (the push subscriptions), and the dispatcher delivers due rows to `handleDelivery` with
 * the same semantics as the cloud: return = ack, throw = retry with exponential backoff,
 * too many attempts = dead letter. Rows survive restarts; an `inflight` row left by a crash is
 * delivered again (at-least-once).
 */
export class LocalDeliveriesPublisher implements Publisher {
  readonly wake = new EventEmitter();
  constructor(private readonly db: Db) {}

  async publish(envelope: Envelope): Promise<void> {
    await this.publishAll([envelope]);
  }

  async publishAll(envelopes: readonly Envelope[]): Promise<void> {
    await this.publishWithin(this.db, envelopes);
    this.wake.emit("published");
  }

  /** The delivery table is in the same database: use the effect's own transaction. */
  async publishWithin(tx: Queryable, envelopes: readonly Envelope[]): Promise<void> {
    const rows: { message_id: string; consumer: string; envelope: Envelope }[] = [];
    for (const envelope of envelopes) {
      const consumers = isMessageType(envelope.type) ? consumersOf(envelope.type) : [];
      for (const consumer of consumers) rows.push({ message_id: envelope.id, consumer, envelope });
    }
    if (rows.length === 0) return;
    await tx.query(
      `INSERT INTO local_deliveries (message_id, consumer, envelope)
       SELECT r.message_id, r.consumer, r.envelope FROM jsonb_to_recordset($1::jsonb) AS r(message_id text, consumer text, envelope jsonb)
       ON CONFLICT DO NOTHING`,
      [JSON.stringify(rows)],
    );
  }

  committed(): void {
    this.wake.emit("published");
  }
}

/**
 * Whether any delivery is still to be made: pending (due now or waiting out a retry's back-off) or
 * in flight. A retry scheduled for later counts: a caller waiting for the dispatcher to settle
 * must not take "nothing due this instant" for "nothing left to do". Two index probes on the small
 * pending and inflight sets (partial indexes), never a count of every delivery row: finished rows
 * pile up until retention deletes them.
 */
export async function deliveriesOutstanding(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ busy: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM local_deliveries WHERE state = 'pending')
         OR EXISTS (SELECT 1 FROM local_deliveries WHERE state = 'inflight') AS busy`,
  );
  return rows[0]?.busy === true;
}

/** Puts deliveries left in flight by a stopped process back in line (reads the inflight partial index). */
export async function requeueInflightDeliveries(db: Queryable): Promise<number> {
  const { rowCount } = await db.query(`UPDATE local_deliveries SET state = 'pending', lease_until = NULL WHERE state = 'inflight'`);
  return rowCount;
}

interface DueRow {
  message_id: string;
  consumer: ConsumerName;
  envelope: unknown;
  attempts: number;
}

export interface DispatcherStats {
  delivered: number;
  retried: number;
  dead: number;
}

export class LocalDispatcher {
  private running = false;
  private inflight = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private pumping = false;
  private repump = false;
  /** Acknowledged deliveries waiting to be marked done in one statement (see markDone). */
  private acked: { message_id: string; consumer: string }[] = [];
  private ackTimer: NodeJS.Timeout | null = null;
  readonly stats: DispatcherStats = { delivered: 0, retried: 0, dead: 0 };

  constructor(
    private readonly deps: Deps,
    private readonly publisher: LocalDeliveriesPublisher,
    private readonly options: {
      concurrency: number;
      maxAttempts: number;
      idleMs?: number;
      /** Told about every delivery's outcome (the `/metrics` counters). */
      onOutcome?: (consumer: string, outcome: "delivered" | "retried" | "dead") => void;
    },
  ) {}

  async start(): Promise<void> {
    // Deliveries a previous process was working on when it stopped: deliver them again.
    await requeueInflightDeliveries(this.deps.db);
    this.running = true;
    this.publisher.wake.on("published", this.onWake);
    this.schedule(0);
  }

  /** Stops taking new deliveries and waits for the ones in flight (bounded by `timeoutMs`). */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.running = false;
    this.publisher.wake.off("published", this.onWake);
    if (this.timer) clearTimeout(this.timer);
    await Promise.race([Promise.allSettled([...this.inflight]), new Promise((r) => setTimeout(r, timeoutMs))]);
    await this.flushAcks();
  }

  /** True when nothing is pending (now or after a back-off) or in flight: tests and the demo settle on it. */
  async idle(): Promise<boolean> {
    if (this.inflight.size > 0) return false;
    await this.flushAcks();
    return !(await deliveriesOutstanding(this.deps.db)) && this.inflight.size === 0;
  }

  private onWake = (): void => this.schedule(0);

  private schedule(ms: number): void {
    if (!this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.pump(), ms);
  }

  private async pump(): Promise<void> {
    if (this.pumping) {
      this.repump = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.repump = false;
        const free = this.options.concurrency - this.inflight.size;
        if (!this.running || free <= 0) break;
        const due = await this.claim(free);
        for (const row of due) {
          const p = this.deliver(row).finally(() => {
            this.inflight.delete(p);
            this.schedule(0);
          });
          this.inflight.add(p);
        }
        if (due.length === free) this.repump = true;
      } while (this.repump && this.running);
    } catch (err) {
      this.deps.log.error("local dispatcher failed to claim deliveries", { error: describeError(err) });
    } finally {
      this.pumping = false;
      this.schedule(this.options.idleMs ?? 250);
    }
  }

  /**
   * Marks acknowledged deliveries done in batches of a few milliseconds: one statement instead of
   * one per delivery. Safe under at-least-once: if the process dies first, the rows are still
   * `inflight` and are delivered again on start, and every consumer is idempotent.
   */
  private markDone(row: DueRow): void {
    this.acked.push({ message_id: row.message_id, consumer: row.consumer });
    this.ackTimer ??= setTimeout(() => void this.flushAcks(), 10);
  }

  private async flushAcks(): Promise<void> {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
    const rows = this.acked;
    this.acked = [];
    if (rows.length === 0) return;
    try {
      await this.deps.db.query(
        `UPDATE local_deliveries d SET state = 'done', last_error = NULL, lease_until = NULL, updated_at = now()
         FROM jsonb_to_recordset($1::jsonb) AS r(message_id text, consumer text)
         WHERE d.message_id = r.message_id AND d.consumer = r.consumer AND d.state = 'inflight'`,
        [JSON.stringify(rows)],
      );
    } catch (err) {
      this.deps.log.warn("could not mark deliveries done; they will be delivered again", { error: describeError(err), count: rows.length });
    }
  }

  private async claim(limit: number): Promise<DueRow[]> {
    const { rows } = await this.deps.db.query<DueRow>(
      `UPDATE local_deliveries SET state = 'inflight', attempts = attempts + 1, lease_until = now() + interval '10 minutes', updated_at = now()
       WHERE (message_id, consumer) IN (
         SELECT message_id, consumer FROM local_deliveries
         WHERE state = 'pending' AND next_attempt_at <= now()
         ORDER BY next_attempt_at, created_at LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING message_id, consumer, envelope, attempts`,
      [limit],
    );
    return rows;
  }

  private async deliver(row: DueRow): Promise<void> {
    try {
      await handleDelivery(row.consumer, row.envelope, this.deps);
      failpoint("delivery.handled_unacked");
      this.markDone(row);
      this.stats.delivered++;
      this.options.onOutcome?.(row.consumer, "delivered");
    } catch (err) {
      const error = describeError(err);
      if (row.attempts >= this.options.maxAttempts) {
        this.stats.dead++;
        this.options.onOutcome?.(row.consumer, "dead");
        // One transaction: a crash between the two would leave a dead delivery with no dead letter
        // to replay, and a reader would see the one without the other.
        await this.deps.db.transaction(async (tx) => {
          await tx.query(
            `UPDATE local_deliveries SET state = 'dead', last_error = $3, lease_until = NULL, updated_at = now() WHERE message_id = $1 AND consumer = $2`,
            [row.message_id, row.consumer, error],
          );
          await recordDeadLetter(tx, { consumer: row.consumer, messageId: row.message_id, reason: `gave up after ${row.attempts} attempts: ${error}`, payload: row.envelope });
        });
        this.deps.log.error("delivery dead-lettered", { consumer: row.consumer, messageId: row.message_id, error });
        return;
      }
      this.stats.retried++;
      this.options.onOutcome?.(row.consumer, "retried");
      const retryAfter = err instanceof TransientError && err.retryAfterMs ? err.retryAfterMs : 0;
      const backoff = Math.max(retryAfter, Math.min(60_000, 500 * 2 ** (row.attempts - 1)) * (0.75 + Math.random() / 2));
      await this.deps.db.query(
        `UPDATE local_deliveries SET state = 'pending', last_error = $3, lease_until = NULL,
           next_attempt_at = now() + make_interval(secs => $4), updated_at = now()
         WHERE message_id = $1 AND consumer = $2`,
        [row.message_id, row.consumer, error, backoff / 1000],
      );
    }
  }
}
