// Training: loss, validation loss, learning rate, grad norm and tokens/s of run folders'
// log.jsonl, several runs overlaid, followed live (each run's log is asked again from the
// byte offset the last answer gave, every two seconds), and MoE expert load per layer.
import { useEffect, useRef, useState } from 'preact/hooks';
import type {
  EvalRecord,
  RouterRecord,
  RunLogResponse,
  RunSummary,
  StepRecord,
} from '../../../src/studio/api-types.js';
import { getJson } from '../api.js';
import { Heatmap } from '../components/heatmap.js';
import { LineChart, type Series } from '../components/line-chart.js';
import type { ViewProps } from '../main.js';

interface RunData {
  steps: StepRecord[];
  evals: EvalRecord[];
  router: RouterRecord[];
  next: number;
}

const pollMs = 2000;

export function TrainingView(_props: ViewProps) {
  const [runs, setRuns] = useState<RunSummary[]>([]);
  const [chosen, setChosen] = useState<string[] | null>(null);
  const [data, setData] = useState<Record<string, RunData>>({});
  const [error, setError] = useState<string | null>(null);
  const dataRef = useRef(data);
  dataRef.current = data;
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async (): Promise<void> => {
      try {
        const list = await getJson<RunSummary[]>('/api/runs');
        if (stopped) return;
        setRuns(list);
        const updates: Record<string, RunData> = {};
        for (const run of list) {
          const old = dataRef.current[run.id];
          const log = await getJson<RunLogResponse>(
            `/api/runs/${encodeURIComponent(run.id)}/log?from=${old?.next ?? 0}`,
          );
          // A log rewritten shorter (a resume trimmed it) comes back from 0: start over.
          const restart = old === undefined || log.next < old.next;
          if (!restart && log.steps.length + log.evals.length + log.router.length === 0) continue;
          updates[run.id] = restart
            ? { steps: [...log.steps], evals: [...log.evals], router: [...log.router], next: log.next }
            : {
                steps: [...old.steps, ...log.steps],
                evals: [...old.evals, ...log.evals],
                router: [...old.router, ...log.router],
                next: log.next,
              };
        }
        if (!stopped && Object.keys(updates).length > 0) setData((d) => ({ ...d, ...updates }));
        setError(null);
      } catch (e) {
        setError((e as Error).message);
      }
      if (!stopped) timer = setTimeout(poll, pollMs);
    };
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, []);
  const shown = (chosen ?? runs.map((r) => r.id)).filter((id) => data[id] !== undefined);
  const series = (pick: (d: RunData) => { x: number[]; y: (number | null)[] }, suffix = ''): Series[] =>
    shown.map((id) => ({ label: `${id}${suffix}`, ...pick(data[id]!) }));
  const steps = (f: (s: StepRecord) => number | null) => (d: RunData) => ({
    x: d.steps.map((s) => s.step),
    y: d.steps.map(f),
  });
  const lossSeries = [
    ...series(
      steps((s) => s.loss),
      ' loss',
    ),
    ...series((d) => ({ x: d.evals.map((e) => e.step), y: d.evals.map((e) => e.valLoss) }), ' val loss'),
  ];
  const moe = shown.map((id) => ({ id, last: data[id]!.router.at(-1) })).filter((r) => r.last !== undefined);
  return (
    <section>
      {error === null ? null : (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <fieldset class="controls">
        <legend>Runs (live: refreshed every {pollMs / 1000} s)</legend>
        {runs.length === 0 ? <p>No run folders: start the studio with a run folder or --runs DIR.</p> : null}
        {runs.map((run) => (
          <label key={run.id} class="check">
            <input
              type="checkbox"
              checked={(chosen ?? runs.map((r) => r.id)).includes(run.id)}
              onChange={(e) => {
                const current = chosen ?? runs.map((r) => r.id);
                setChosen(
                  (e.currentTarget as HTMLInputElement).checked
                    ? [...current, run.id]
                    : current.filter((id) => id !== run.id),
                );
              }}
            />
            {run.id}{' '}
            <span class="count">
              step {run.step}
              {run.iters === null ? '' : ` of ${run.iters}`}
            </span>
          </label>
        ))}
      </fieldset>
      {shown.length === 0 ? null : (
        <div class="columns charts">
          <LineChart testId="chart-loss" title="Loss (train steps) and validation loss" series={lossSeries} />
          <LineChart testId="chart-lr" title="Learning rate" series={series(steps((s) => s.lr))} />
          <LineChart
            testId="chart-grad-norm"
            title="Gradient norm"
            series={series(steps((s) => s.gradNorm))}
          />
          <LineChart
            testId="chart-tokens"
            title="Tokens per second"
            series={series(steps((s) => s.tokensPerS))}
          />
        </div>
      )}
      {moe.map(({ id, last }) => (
        <article key={id} class="card">
          <h3>
            {id}: expert load per layer at step {last!.step}
          </h3>
          <Heatmap
            testId="expert-load"
            values={last!.load.flat()}
            rows={last!.load.length}
            cols={last!.load[0]?.length ?? 0}
            label="share of assignments per expert (rows layers, columns experts)"
            rowLabels={last!.load.map((_, l) => `layer ${l}`)}
            colLabels={(last!.load[0] ?? []).map((_, e) => `expert ${e}`)}
            size={360}
          />
        </article>
      ))}
    </section>
  );
}
