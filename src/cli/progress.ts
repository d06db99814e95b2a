/**
 * Renders training events for a terminal: a cli-progress bar (step, loss, tokens/s, ETA)
 * on stderr while it is a TTY, and one line per evaluation / checkpoint in every case.
 */
import cliProgress from 'cli-progress';
import type { TrainEvent } from '../train/index.js';

export interface TrainProgress {
  onEvent(event: TrainEvent): void;
  stop(): void;
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return s >= 3600
    ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
    : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

export function createTrainProgress(iters: number, startStep: number): TrainProgress {
  const tty = process.stderr.isTTY === true;
  const bar = tty
    ? new cliProgress.SingleBar(
        {
          format: ' {bar} {value}/{total} | loss {loss} | {tps} tok/s | {ms} ms/it | ETA {eta_text}',
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: false,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(iters, startStep, { loss: '-', tps: '-', ms: '-', eta_text: '?' });
  // Lines printed while the bar is drawn must clear it first, or they interleave.
  const line = (text: string): void => {
    if (bar !== null) process.stderr.write('\r\x1b[K');
    process.stderr.write(text + '\n');
    bar?.render();
  };
  return {
    onEvent(event) {
      switch (event.kind) {
        case 'step':
          bar?.update(event.step, {
            loss: event.loss.toFixed(4),
            tps: Math.round(event.tokensPerS),
            ms: event.ms.toFixed(1),
            eta_text: formatSeconds(event.etaS),
          });
          break;
        case 'eval':
          line(
            `step ${event.step}: train loss ${event.trainLoss.toFixed(4)} (ppl ${event.trainPerplexity.toFixed(2)}), ` +
              `val loss ${event.valLoss.toFixed(4)} (ppl ${event.valPerplexity.toFixed(2)})` +
              Object.entries(event.metrics)
                .map(([name, value]) => `, ${name} ${value.toFixed(4)}`)
                .join(''),
          );
          break;
        case 'skip':
          line(`step ${event.step}: skipped, ${event.reason} (${event.skippedSteps} skipped so far)`);
          break;
        case 'checkpoint':
          line(`step ${event.step}: checkpoint saved to ${event.dir}`);
          break;
        case 'early-stop':
          line(`step ${event.step}: early stop (best val loss ${event.bestValLoss.toFixed(4)})`);
          break;
      }
    },
    stop() {
      bar?.stop();
    },
  };
}
