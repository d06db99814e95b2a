// Embeddings: token embeddings (or mean-pooled sentence embeddings) of entered texts
// projected to 2-D by PCA or UMAP, the nearest neighbours of a chosen point by cosine, and
// the positional encodings (sinusoidal table, RoPE rotation angles) as heat maps.
import { useEffect, useState } from 'preact/hooks';
import type { EmbeddingsResponse, PositionalResponse } from '../../../src/studio/api-types.js';
import { getJson, postJson } from '../api.js';
import { Heatmap } from '../components/heatmap.js';
import type { ViewProps } from '../main.js';
import { ErrorLine, useRequest } from './use-request.js';

function Scatter(props: {
  readonly data: EmbeddingsResponse;
  readonly selected: number;
  readonly onSelect: (n: number) => void;
}) {
  const { points } = props.data;
  const size = 420;
  const pad = 24;
  const xs = points.map((p) => p.x);
  const ys = points.map((p) => p.y);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x: number): number => pad + ((x - x0) / (x1 - x0 || 1)) * (size - 2 * pad);
  const sy = (y: number): number => size - pad - ((y - y0) / (y1 - y0 || 1)) * (size - 2 * pad);
  return (
    <svg
      class="scatter"
      viewBox={`0 0 ${size} ${size}`}
      width="100%"
      style={{ maxWidth: `${size}px` }}
      role="img"
      aria-label={`${points.length} points, ${props.data.projection.toUpperCase()}`}
      data-testid="embedding-scatter"
    >
      {points.map((p, n) => (
        <g
          key={n}
          class={n === props.selected ? 'point selected' : 'point'}
          onClick={() => props.onSelect(n)}
        >
          <circle cx={sx(p.x)} cy={sy(p.y)} r={n === props.selected ? 6 : 4}>
            <title>{p.label}</title>
          </circle>
          {points.length <= 60 ? (
            <text x={sx(p.x) + 6} y={sy(p.y) - 6}>
              {p.label.length > 18 ? `${p.label.slice(0, 18)}…` : p.label}
            </text>
          ) : null}
        </g>
      ))}
    </svg>
  );
}

function Positional(props: { readonly model: string | undefined }) {
  const request = useRequest((query: string) => getJson<PositionalResponse>(`/api/positional?${query}`));
  useEffect(() => {
    void request.run(
      `positions=64${props.model === undefined ? '' : `&model=${encodeURIComponent(props.model)}`}`,
    );
  }, [props.model]);
  const data = request.result;
  return (
    <article class="card wide-card">
      <h3>Positional encodings{data?.modelEncoding == null ? '' : ` (this model: ${data.modelEncoding})`}</h3>
      <ErrorLine error={request.error} />
      {data === null ? null : (
        <div class="columns">
          <div>
            <p class="legend">
              Sinusoidal: PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(…); rows positions, columns
              dimensions
            </p>
            <Heatmap
              testId="sinusoidal-map"
              values={data.sinusoidal.flat()}
              rows={data.sinusoidal.length}
              cols={data.sinusoidal[0]?.length ?? 0}
              label="sinusoidal table"
              scale="diverging"
              size={360}
            />
          </div>
          <div>
            <p class="legend">
              RoPE: cos(p · θ^(-2i/{data.headSize})), θ = {data.theta}; rows positions, columns frequency
              pairs
            </p>
            <Heatmap
              testId="rope-map"
              values={data.rope.flat()}
              rows={data.rope.length}
              cols={data.rope[0]?.length ?? 0}
              label="RoPE rotation cosines"
              scale="diverging"
              size={360}
            />
          </div>
        </div>
      )}
    </article>
  );
}

export function EmbeddingsView(props: ViewProps) {
  const [mode, setMode] = useState<'tokens' | 'sentences'>('tokens');
  const [text, setText] = useState(
    'cat\nkitten\ndog\npuppy\nking\nqueen\nprince\ntractor\ncar\ntruck\napple\npear',
  );
  const [projection, setProjection] = useState<'pca' | 'umap'>('pca');
  const [selected, setSelected] = useState(0);
  const request = useRequest((body: object) => postJson<EmbeddingsResponse>('/api/embeddings', body));
  const texts = text.split('\n').filter((t) => t.trim() !== '');
  /** Asks for the current inputs, with the neighbours of point `n` (absent: the first). */
  const ask = (n?: number): void => {
    const query = n === undefined ? undefined : mode === 'tokens' ? request.result?.points[n]?.id : n;
    void request.run({
      ...(props.model === undefined ? {} : { model: props.model }),
      mode,
      // Tokens: each word with and without a leading space (byte-level BPE tells them apart).
      texts: mode === 'tokens' ? texts.map((t) => ` ${t.trim()}`).concat(texts.map((t) => t.trim())) : texts,
      projection,
      k: 8,
      ...(query === undefined || query === null ? {} : { query }),
    });
  };
  const go = (n: number): void => {
    setSelected(n);
    ask(n);
  };
  useEffect(() => {
    setSelected(0);
    ask();
  }, [mode, projection, props.model]);
  const data = request.result;
  return (
    <section>
      <form
        class="controls"
        onSubmit={(e) => {
          e.preventDefault();
          setSelected(0);
          ask();
        }}
      >
        <label class="wide">
          {mode === 'tokens'
            ? 'Words (one per line; each word with and without a leading space)'
            : 'Texts (one per line)'}
          <textarea
            rows={4}
            value={text}
            onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)}
          />
        </label>
        <button type="submit" disabled={request.busy}>
          Embed
        </button>
        <label>
          Embeddings
          <select
            value={mode}
            onChange={(e) => setMode((e.currentTarget as HTMLSelectElement).value as 'tokens' | 'sentences')}
          >
            <option value="tokens">token embeddings</option>
            <option value="sentences">sentence embeddings (mean of the last hidden state)</option>
          </select>
        </label>
        <label>
          Projection
          <select
            value={projection}
            onChange={(e) => setProjection((e.currentTarget as HTMLSelectElement).value as 'pca' | 'umap')}
          >
            <option value="pca">PCA</option>
            <option value="umap">UMAP</option>
          </select>
        </label>
        {data === null ? null : (
          <label>
            Neighbours of
            <select
              value={selected}
              onChange={(e) => go(Number((e.currentTarget as HTMLSelectElement).value))}
            >
              {data.points.map((p, n) => (
                <option key={n} value={n}>
                  {JSON.stringify(p.label)}
                </option>
              ))}
            </select>
          </label>
        )}
      </form>
      <ErrorLine error={request.error} />
      {data === null ? null : (
        <div class="columns">
          <article class="card">
            <h3>
              {data.points.length} {data.mode === 'tokens' ? 'tokens' : 'texts'}, {data.dim} dimensions → 2 by{' '}
              {data.projection.toUpperCase()}
            </h3>
            <Scatter data={data} selected={selected} onSelect={go} />
          </article>
          <article class="card">
            <h3>
              Nearest to {JSON.stringify(data.query)} by cosine
              {data.mode === 'tokens' ? ' (whole vocabulary)' : ''}
            </h3>
            <table data-testid="neighbours">
              <thead>
                <tr>
                  <th scope="col">{data.mode === 'tokens' ? 'token' : 'text'}</th>
                  <th scope="col">cosine</th>
                </tr>
              </thead>
              <tbody>
                {data.neighbours.map((n, i) => (
                  <tr key={i}>
                    <td>{JSON.stringify(n.label)}</td>
                    <td>{n.similarity.toFixed(4)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </article>
        </div>
      )}
      <Positional model={props.model} />
    </section>
  );
}
