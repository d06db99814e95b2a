// Next token: the top-N next tokens with probabilities, what temperature, top-k and top-p
// keep, the renormalised distribution a sample draws from, and a step-by-step continuation.
import { useEffect, useState } from 'preact/hooks';
import type { NextTokenResponse } from '../../../src/studio/api-types.js';
import { postJson } from '../api.js';
import { Bars } from '../components/bars.js';
import type { ViewProps } from '../main.js';
import { ErrorLine, useRequest } from './use-request.js';

export function NextTokenView(props: ViewProps) {
  const [prompt, setPrompt] = useState('The king');
  const [ids, setIds] = useState<number[] | null>(null);
  const [top, setTop] = useState(15);
  const [temperature, setTemperature] = useState(1);
  const [topKOn, setTopKOn] = useState(false);
  const [topK, setTopK] = useState(5);
  const [topP, setTopP] = useState(1);
  const [seed, setSeed] = useState(0);
  /** Tokens appended by the step buttons since the prompt. */
  const [steps, setSteps] = useState(0);
  const request = useRequest((body: object) => postJson<NextTokenResponse>('/api/next-token', body));
  const ask = (nextIds: number[] | null, nextSeed = seed): void =>
    void request.run({
      ...(props.model === undefined ? {} : { model: props.model }),
      ...(nextIds === null ? { prompt } : { ids: nextIds }),
      top,
      temperature,
      ...(topKOn ? { topK } : {}),
      ...(topP < 1 ? { topP } : {}),
      seed: nextSeed,
    });
  useEffect(() => ask(ids), [top, temperature, topKOn, topK, topP, props.model]);
  const view = request.result;
  const step = (kind: 'greedy' | 'sampled'): void => {
    if (view === null) return;
    const next = [...view.promptIds, view[kind].id];
    setIds(next);
    setSteps(steps + 1);
    const nextSeed = kind === 'sampled' ? seed + 1 : seed;
    setSeed(nextSeed);
    ask(next, nextSeed);
  };
  const kindOf = (c: NextTokenResponse['candidates'][number]): string =>
    !c.keptTopK ? 'cut-k' : !c.keptTopP ? 'cut-p' : 'kept';
  const show = (token: string): string => JSON.stringify(token).slice(1, -1);
  return (
    <section>
      <form
        class="controls"
        onSubmit={(e) => {
          e.preventDefault();
          setIds(null);
          setSteps(0);
          ask(null);
        }}
      >
        <label class="wide">
          Prompt
          <textarea
            rows={2}
            value={prompt}
            onInput={(e) => setPrompt((e.currentTarget as HTMLTextAreaElement).value)}
          />
        </label>
        <button type="submit" disabled={request.busy}>
          Predict
        </button>
        <label>
          Top N
          <input
            type="number"
            min={1}
            max={100}
            value={top}
            onChange={(e) => setTop(Number((e.currentTarget as HTMLInputElement).value))}
          />
        </label>
        <label>
          Temperature {temperature.toFixed(2)}
          <input
            type="range"
            min={0.05}
            max={3}
            step={0.05}
            value={temperature}
            onInput={(e) => setTemperature(Number((e.currentTarget as HTMLInputElement).value))}
          />
        </label>
        <label class="check">
          <input
            type="checkbox"
            checked={topKOn}
            onChange={(e) => setTopKOn((e.currentTarget as HTMLInputElement).checked)}
          />
          Top-k
        </label>
        <label>
          k
          <input
            type="number"
            min={1}
            value={topK}
            disabled={!topKOn}
            aria-label="top-k"
            onInput={(e) => {
              // Follow the typing (a re-render before a change event would put the old k back).
              const k = Number((e.currentTarget as HTMLInputElement).value);
              if (Number.isInteger(k) && k >= 1) setTopK(k);
            }}
          />
        </label>
        <label>
          Top-p {topP.toFixed(2)}
          <input
            type="range"
            min={0.05}
            max={1}
            step={0.05}
            value={topP}
            onInput={(e) => setTopP(Number((e.currentTarget as HTMLInputElement).value))}
          />
        </label>
      </form>
      <ErrorLine error={request.error} />
      {view === null ? null : (
        <>
          <p class="continuation" data-testid="continuation">
            {view.promptPieces.map((p, i) => (
              <span key={i} class={i >= view.promptIds.length - steps ? 'piece generated' : 'piece'}>
                {p}
              </span>
            ))}
          </p>
          <div class="controls">
            <button type="button" onClick={() => step('greedy')} disabled={request.busy}>
              Step greedy ({show(view.greedy.token)})
            </button>
            <button type="button" onClick={() => step('sampled')} disabled={request.busy}>
              Step sampled ({show(view.sampled.token)})
            </button>
            <button
              type="button"
              onClick={() => {
                setIds(null);
                setSteps(0);
                ask(null);
              }}
            >
              Reset to prompt
            </button>
          </div>
          <div class="columns">
            <article class="card">
              <h3>Model distribution (temperature 1)</h3>
              <p class="legend">
                <span class="swatch kept" /> kept <span class="swatch cut-k" /> cut by top-k{' '}
                <span class="swatch cut-p" /> cut by top-p
              </p>
              <Bars
                testId="model-bars"
                label="the most probable next tokens"
                bars={view.candidates.map((c) => ({ label: show(c.token), value: c.prob, kind: kindOf(c) }))}
              />
            </article>
            <article class="card">
              <h3>
                Sampled from (temperature {temperature}, {view.survivors} token
                {view.survivors === 1 ? '' : 's'} survive)
              </h3>
              <Bars
                testId="filtered-bars"
                label="the renormalised distribution after the filters"
                bars={view.candidates
                  .filter((c) => c.filtered > 0)
                  .map((c) => ({ label: show(c.token), value: c.filtered, kind: 'kept' }))}
              />
            </article>
          </div>
        </>
      )}
    </section>
  );
}
