/**
 * Router statistics of a training run's MoE layers, summed over the steps between two
 * evaluations: per layer the fraction of the token-expert assignments each expert got
 * (the load, summing to 1), the mean entropy of the router distribution and the fraction of
 * assignments the capacity dropped; the mean auxiliary loss term, and the mean values of
 * its two parts (the load-balancing loss and the z-loss, unweighted, whatever their
 * coefficients). The trainer logs one summary at each evaluation (log.jsonl `router`
 * records) and reports the last one.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { routerLossValues } from '../nn/index.js';
import type { ModelOutputs } from '../models/index.js';
import type { Tensor } from '../tensor/index.js';
import { logFile } from './checkpoint.js';

export interface RouterLayerSummary {
  /** (E) fraction of the assignments routed to each expert (sums to 1). */
  readonly load: readonly number[];
  /** Mean entropy (nats) of the router's softmax over experts, per token. */
  readonly entropy: number;
  /** Fraction of the assignments dropped by the capacity limit. */
  readonly dropped: number;
}

export interface RouterSummary {
  /** Training forward passes (micro-steps) summed. */
  readonly passes: number;
  /** Mean auxiliary loss term (already weighted) over those passes; null when the model returned none. */
  readonly auxLoss: number | null;
  /** Mean load-balancing loss (HF's; k when balanced, up to E * k when collapsed) over those passes. */
  readonly balance: number;
  /** Mean router z-loss over those passes. */
  readonly zLoss: number;
  readonly layers: readonly RouterLayerSummary[];
}

interface LayerSums {
  readonly counts: number[];
  dropped: number;
  entropy: number;
  tokens: number;
}

export class RouterWindow {
  #passes = 0;
  #auxSum = 0;
  #auxPasses = 0;
  #balance = 0;
  #zLoss = 0;
  #layers: LayerSums[] = [];

  /** Adds one training forward's outputs (reads the auxiliary loss's value now). */
  add(outputs: {
    readonly auxLoss?: Tensor | undefined;
    readonly routerStats?: ModelOutputs['routerStats'] | undefined;
  }): void {
    const stats = outputs.routerStats;
    if (stats === undefined) return;
    this.#passes++;
    const values = routerLossValues(stats);
    this.#balance += values.balance;
    this.#zLoss += values.zLoss;
    if (outputs.auxLoss !== undefined) {
      this.#auxSum += outputs.auxLoss.item();
      this.#auxPasses++;
    }
    stats.forEach((s, layer) => {
      const sums = (this.#layers[layer] ??= {
        counts: s.counts.map(() => 0),
        dropped: 0,
        entropy: 0,
        tokens: 0,
      });
      s.counts.forEach((count, e) => (sums.counts[e]! += count));
      sums.dropped += s.dropped;
      sums.entropy += s.entropy * s.tokens;
      sums.tokens += s.tokens;
    });
  }

  /** The window's summary, and a fresh window; null when no pass was added. */
  take(): RouterSummary | null {
    if (this.#passes === 0) return null;
    const summary: RouterSummary = {
      passes: this.#passes,
      auxLoss: this.#auxPasses === 0 ? null : this.#auxSum / this.#auxPasses,
      balance: this.#balance / this.#passes,
      zLoss: this.#zLoss / this.#passes,
      layers: this.#layers.map((l) => {
        const assignments = l.counts.reduce((a, b) => a + b, 0);
        return {
          load: l.counts.map((c) => c / assignments),
          entropy: l.entropy / l.tokens,
          dropped: l.dropped / assignments,
        };
      }),
    };
    this.#passes = 0;
    this.#auxSum = 0;
    this.#auxPasses = 0;
    this.#balance = 0;
    this.#zLoss = 0;
    this.#layers = [];
    return summary;
  }
}

/** A `router` record of log.jsonl. */
export interface RouterLogRecord {
  readonly type: 'router';
  readonly step: number;
  readonly passes: number;
  readonly aux_loss: number | null;
  readonly balance_loss: number;
  readonly z_loss: number;
  readonly layers: ReadonlyArray<{
    readonly load: readonly number[];
    readonly entropy: number;
    readonly dropped: number;
  }>;
}

/** The log.jsonl record of a summary (snake_case, as the other records). */
export function routerLogRecord(step: number, summary: RouterSummary): RouterLogRecord {
  return {
    type: 'router',
    step,
    passes: summary.passes,
    aux_loss: summary.auxLoss,
    balance_loss: summary.balance,
    z_loss: summary.zLoss,
    layers: summary.layers.map((l) => ({ load: l.load, entropy: l.entropy, dropped: l.dropped })),
  };
}

/**
 * The last `router` record of a run folder's log.jsonl, or null (no log, no such record: a
 * dense model's run). Lines that do not parse (a torn last line) are skipped.
 */
export async function readLastRouterRecord(dir: string): Promise<RouterLogRecord | null> {
  let text: string;
  try {
    text = await readFile(join(dir, logFile), 'utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    if (!lines[i]!.includes('"router"')) continue;
    try {
      const record = JSON.parse(lines[i]!) as { type?: unknown };
      if (record.type === 'router') return record as RouterLogRecord;
    } catch {
      // a torn line
    }
  }
  return null;
}
