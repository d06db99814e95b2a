// Attention: the model's attention probabilities for a prompt, per layer and head (heat
// map with hover/arrow-key readout), a grid of every head, and attention rollout.
// (Cross-attention waits for an encoder-decoder family and contract outputs for it.)
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { AttentionResponse } from '../../../src/studio/api-types.js';
import { attentionRollout } from '../../../src/studio/rollout.js';
import { postJson } from '../api.js';
import { Heatmap, colour } from '../components/heatmap.js';
import type { ViewProps } from '../main.js';
import { ErrorLine, useRequest } from './use-request.js';

function flat(matrix: readonly (readonly number[])[]): Float64Array {
  const T = matrix.length;
  const S = matrix[0]?.length ?? 0;
  const out = new Float64Array(T * S);
  matrix.forEach((row, i) => out.set(row, i * S));
  return out;
}

/** A small canvas of one head, a button that selects it. */
function HeadThumb(props: {
  readonly values: Float64Array;
  readonly T: number;
  readonly label: string;
  readonly selected: boolean;
  readonly onSelect: () => void;
}) {
  const size = 56;
  return (
    <button
      type="button"
      class={`thumb${props.selected ? ' selected' : ''}`}
      aria-label={props.label}
      aria-pressed={props.selected}
      onClick={props.onSelect}
    >
      <canvas
        width={size}
        height={size}
        ref={(c) => {
          if (c === null) return;
          const context = c.getContext('2d')!;
          const cell = size / props.T;
          for (let i = 0; i < props.T; i++) {
            for (let j = 0; j < props.T; j++) {
              context.fillStyle = colour(props.values[i * props.T + j]!, 1, 'sequential');
              context.fillRect(j * cell, i * cell, Math.ceil(cell), Math.ceil(cell));
            }
          }
        }}
      />
    </button>
  );
}

export function AttentionView(props: ViewProps) {
  const [text, setText] = useState('The cat sat on the mat because it was tired.');
  const [layer, setLayer] = useState(0);
  const [head, setHead] = useState(0);
  const [mode, setMode] = useState<'head' | 'rollout'>('head');
  const request = useRequest((body: object) => postJson<AttentionResponse>('/api/attention', body));
  const go = (): void =>
    void request.run({ ...(props.model === undefined ? {} : { model: props.model }), text });
  useEffect(go, [props.model]);
  const data = request.result;
  const T = data?.tokens.length ?? 0;
  const maps = useMemo(() => (data === null ? [] : data.layers.map((heads) => heads.map(flat))), [data]);
  const rollout = useMemo(() => (maps.length === 0 ? null : attentionRollout(maps, T)), [maps, T]);
  const L = maps.length;
  const H = maps[0]?.length ?? 0;
  const l = Math.min(layer, Math.max(0, L - 1));
  const h = Math.min(head, Math.max(0, H - 1));
  const labels = data?.pieces.map((p, i) => `${i}:${JSON.stringify(p).slice(1, -1)}`) ?? [];
  const shown = mode === 'rollout' ? rollout : maps[l]?.[h];
  return (
    <section>
      <form
        class="controls"
        onSubmit={(e) => {
          e.preventDefault();
          go();
        }}
      >
        <label class="wide">
          Prompt
          <textarea
            rows={2}
            value={text}
            onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)}
          />
        </label>
        <button type="submit" disabled={request.busy}>
          Show attention
        </button>
        <label>
          Layer
          <select
            aria-label="Layer"
            value={l}
            onChange={(e) => setLayer(Number((e.currentTarget as HTMLSelectElement).value))}
          >
            {Array.from({ length: L }, (_, i) => (
              <option key={i} value={i}>
                {i}
              </option>
            ))}
          </select>
        </label>
        <label>
          Head
          <select
            aria-label="Head"
            value={h}
            onChange={(e) => setHead(Number((e.currentTarget as HTMLSelectElement).value))}
          >
            {Array.from({ length: H }, (_, i) => (
              <option key={i} value={i}>
                {i}
              </option>
            ))}
          </select>
        </label>
        <fieldset>
          <legend>Show</legend>
          <label class="check">
            <input
              type="radio"
              name="attention-mode"
              checked={mode === 'head'}
              onChange={() => setMode('head')}
            />
            one head
          </label>
          <label class="check">
            <input
              type="radio"
              name="attention-mode"
              checked={mode === 'rollout'}
              onChange={() => setMode('rollout')}
            />
            rollout across layers
          </label>
        </fieldset>
      </form>
      <ErrorLine error={request.error} />
      {data === null || shown === undefined || shown === null ? null : (
        <div class="columns">
          <article class="card">
            <h3>
              {mode === 'rollout'
                ? 'Attention rollout (all layers, heads averaged)'
                : `Layer ${l}, head ${h}`}
            </h3>
            <p class="legend">rows: queries (each row sums to 1); columns: keys</p>
            <Heatmap
              testId="attention-map"
              values={shown}
              rows={T}
              cols={T}
              label={mode === 'rollout' ? 'attention rollout' : `attention of layer ${l} head ${h}`}
              rowLabels={labels}
              colLabels={labels}
            />
          </article>
          <article class="card">
            <h3>Every head</h3>
            <div
              class="head-grid"
              style={{ gridTemplateColumns: `auto repeat(${H}, auto)` }}
              data-testid="head-grid"
            >
              <span />
              {Array.from({ length: H }, (_, hh) => (
                <span key={hh} class="grid-label">
                  h{hh}
                </span>
              ))}
              {maps.map((heads, ll) => (
                <>
                  <span class="grid-label">L{ll}</span>
                  {heads.map((values, hh) => (
                    <HeadThumb
                      key={`${ll}-${hh}`}
                      values={values}
                      T={T}
                      label={`layer ${ll} head ${hh}`}
                      selected={mode === 'head' && ll === l && hh === h}
                      onSelect={() => {
                        setMode('head');
                        setLayer(ll);
                        setHead(hh);
                      }}
                    />
                  ))}
                </>
              ))}
            </div>
          </article>
        </div>
      )}
    </section>
  );
}
