// Attention: the model's attention probabilities for a prompt, per layer and head (heat
// map with hover/arrow-key readout), a grid of every head, and attention rollout; for an
// encoder-decoder, a source and a target (empty: the model's translation) and a choice of
// the encoder's, the decoder's or the cross-attention (target tokens x source tokens).
// Maps come in the binary format, the selected one first, then the grid a layer at a time
// (the server keeps the text's maps, so the forward runs once).
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { AttentionBinaryHeader, AttentionKind } from '../../../src/studio/api-types.js';
import type { DecodedAttention } from '../../../src/studio/attention-decode.js';
import { attentionRollout } from '../../../src/studio/rollout.js';
import { postAttention } from '../api.js';
import { Heatmap, colourRgb } from '../components/heatmap.js';
import type { ViewProps } from '../main.js';
import { ErrorLine } from './use-request.js';

const kindNames: Readonly<Record<AttentionKind, string>> = {
  self: 'self-attention',
  encoder: 'encoder self-attention (source x source)',
  decoder: 'decoder self-attention (target x target)',
  cross: 'cross-attention (target x source)',
};

type Input = { readonly model?: string } & (
  { readonly text: string } | { readonly source: string; readonly target?: string }
);

const keyOf = (kind: AttentionKind, layer: number, head: number): string => `${kind}:${layer}:${head}`;

/** A small canvas of one head (nearest-cell downsampling), a button that selects it. */
function HeadThumb(props: {
  readonly values: Float32Array | undefined;
  readonly rows: number;
  readonly cols: number;
  readonly label: string;
  readonly selected: boolean;
  readonly onSelect: () => void;
}) {
  const size = 56;
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = canvas.current;
    const values = props.values;
    if (c === null || values === undefined) return;
    const context = c.getContext('2d')!;
    const image = context.createImageData(size, size);
    for (let y = 0; y < size; y++) {
      const i = Math.floor((y * props.rows) / size);
      for (let x = 0; x < size; x++) {
        const j = Math.floor((x * props.cols) / size);
        image.data.set([...colourRgb(values[i * props.cols + j]!, 1, 'sequential'), 255], (y * size + x) * 4);
      }
    }
    context.putImageData(image, 0, 0);
  }, [props.values, props.rows, props.cols]);
  return (
    <button
      type="button"
      class={`thumb${props.selected ? ' selected' : ''}`}
      aria-label={props.label}
      aria-pressed={props.selected}
      onClick={props.onSelect}
    >
      <canvas width={size} height={size} ref={canvas} />
    </button>
  );
}

export function AttentionView(props: ViewProps) {
  const seq2seq = props.models.find((m) => m.id === props.model)?.kind === 'encoder-decoder';
  const [text, setText] = useState('The cat sat on the mat because it was tired.');
  const [source, setSource] = useState('the cat is on the mat');
  const [target, setTarget] = useState('');
  const [kind, setKind] = useState<AttentionKind>(seq2seq ? 'cross' : 'self');
  const [layer, setLayer] = useState(0);
  const [head, setHead] = useState(0);
  const [mode, setMode] = useState<'head' | 'rollout'>('head');
  const [session, setSession] = useState<{ input: Input; header: AttentionBinaryHeader } | null>(null);
  const [maps, setMaps] = useState<ReadonlyMap<string, Float32Array>>(new Map());
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  /** Bumped by each new text or attention: older answers are dropped. */
  const generation = useRef(0);

  const store = (decoded: DecodedAttention): void =>
    setMaps((old) => {
      const next = new Map(old);
      for (const m of decoded.maps) next.set(keyOf(m.attention, m.layer, m.head), m.values);
      return next;
    });

  /** The selected map first, then every layer's heads for the grid. */
  const load = async (
    input: Input,
    k: AttentionKind,
    l: number,
    h: number,
    fresh: boolean,
  ): Promise<void> => {
    const g = ++generation.current;
    setBusy(true);
    setError(null);
    try {
      const first = await postAttention({ ...input, attention: [k], layers: [l], heads: [h] });
      if (g !== generation.current) return;
      if (fresh) {
        setSession({ input, header: first.header });
        setMaps(new Map());
      }
      store(first);
      const info = first.header.attentions.find((a) => a.attention === k)!;
      for (let ll = 0; ll < info.layers; ll++) {
        const layerMaps = await postAttention({ ...input, attention: [k], layers: [ll] });
        if (g !== generation.current) return;
        store(layerMaps);
      }
    } catch (e) {
      if (g === generation.current) setError((e as Error).message);
    } finally {
      if (g === generation.current) setBusy(false);
    }
  };

  const go = (): void => {
    const model = props.model === undefined ? {} : { model: props.model };
    const input: Input = seq2seq
      ? { ...model, source, ...(target.trim() === '' ? {} : { target }) }
      : { ...model, text };
    void load(input, kind, 0, 0, true);
    setLayer(0);
    setHead(0);
  };
  useEffect(go, [props.model]);

  const header = session?.header ?? null;
  const info = header?.attentions.find((a) => a.attention === kind) ?? null;
  const L = info?.layers ?? 0;
  const H = info?.heads ?? 0;
  const rows = info?.rows ?? 0;
  const cols = info?.cols ?? 0;
  const l = Math.min(layer, Math.max(0, L - 1));
  const h = Math.min(head, Math.max(0, H - 1));
  const complete =
    L > 0 && Array.from({ length: L * H }).every((_, k) => maps.has(keyOf(kind, Math.floor(k / H), k % H)));
  const rollout = useMemo(() => {
    if (!complete || kind === 'cross') return null;
    const layers = Array.from({ length: L }, (_, ll) =>
      Array.from({ length: H }, (_, hh) => maps.get(keyOf(kind, ll, hh))!),
    );
    return attentionRollout(layers, rows);
  }, [complete, kind, maps, L, H, rows]);
  const selected = maps.get(keyOf(kind, l, h));

  /** A map that the grid has not brought yet is asked for on its own. */
  const select = (k: AttentionKind, ll: number, hh: number): void => {
    if (session === null || maps.has(keyOf(k, ll, hh))) return;
    postAttention({ ...session.input, attention: [k], layers: [ll], heads: [hh] }).then(store, (e: Error) =>
      setError(e.message),
    );
  };
  const choose = (ll: number, hh: number): void => {
    setLayer(ll);
    setHead(hh);
    select(kind, ll, hh);
  };

  const piecesLabels = (pieces: readonly string[]): string[] =>
    pieces.map((p, i) => `${i}:${JSON.stringify(p).slice(1, -1)}`);
  const targetLabels = piecesLabels(header?.pieces ?? []);
  const sourceLabels = piecesLabels(header?.source?.pieces ?? []);
  const rowLabels = kind === 'encoder' ? sourceLabels : targetLabels;
  const colLabels = kind === 'encoder' || kind === 'cross' ? sourceLabels : targetLabels;
  const shown = mode === 'rollout' && kind !== 'cross' ? rollout : selected;
  const numberOptions = (n: number) =>
    Array.from({ length: n }, (_, i) => (
      <option key={i} value={i}>
        {i}
      </option>
    ));

  return (
    <section>
      <form
        class="controls"
        onSubmit={(e) => {
          e.preventDefault();
          go();
        }}
      >
        {seq2seq ? (
          <>
            <label class="wide">
              Source
              <textarea
                rows={2}
                value={source}
                onInput={(e) => setSource((e.currentTarget as HTMLTextAreaElement).value)}
              />
            </label>
            <label class="wide">
              Target (empty: the model's translation)
              <textarea
                rows={2}
                value={target}
                onInput={(e) => setTarget((e.currentTarget as HTMLTextAreaElement).value)}
              />
            </label>
          </>
        ) : (
          <label class="wide">
            Prompt
            <textarea
              rows={2}
              value={text}
              onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)}
            />
          </label>
        )}
        <button type="submit" disabled={busy}>
          Show attention
        </button>
        {seq2seq ? (
          <label>
            Which attention
            <select
              aria-label="Which attention"
              value={kind}
              onChange={(e) => {
                const k = (e.currentTarget as HTMLSelectElement).value as AttentionKind;
                setKind(k);
                if (session !== null) {
                  const next = session.header.attentions.find((a) => a.attention === k)!;
                  void load(
                    session.input,
                    k,
                    Math.min(l, next.layers - 1),
                    Math.min(h, next.heads - 1),
                    false,
                  );
                }
              }}
            >
              {(['encoder', 'decoder', 'cross'] as const).map((k) => (
                <option key={k} value={k}>
                  {kindNames[k]}
                </option>
              ))}
            </select>
          </label>
        ) : null}
        <label>
          Layer
          <select
            aria-label="Layer"
            value={l}
            onChange={(e) => choose(Number((e.currentTarget as HTMLSelectElement).value), h)}
          >
            {numberOptions(L)}
          </select>
        </label>
        <label>
          Head
          <select
            aria-label="Head"
            value={h}
            onChange={(e) => choose(l, Number((e.currentTarget as HTMLSelectElement).value))}
          >
            {numberOptions(H)}
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
              disabled={kind === 'cross'}
              onChange={() => setMode('rollout')}
            />
            rollout across layers
          </label>
        </fieldset>
      </form>
      <ErrorLine error={error} />
      {header !== null && header.source !== null ? (
        <p class="legend" data-testid="attention-target">
          target ({header.tokens.length} decoder inputs: the start token, then the target):{' '}
          {header.pieces.slice(1).join('')}
        </p>
      ) : null}
      {header === null || info === null ? null : (
        <div class="columns">
          <article class="card">
            <h3>
              {mode === 'rollout' && kind !== 'cross'
                ? `Attention rollout (${kindNames[kind]}, all layers, heads averaged)`
                : `Layer ${l}, head ${h}: ${kindNames[kind]}`}
            </h3>
            <p class="legend">
              rows: queries (each row sums to 1); columns: keys
              {mode === 'rollout' && rollout === null && kind !== 'cross'
                ? ' (rollout waits for every layer)'
                : ''}
            </p>
            {shown === null || shown === undefined ? (
              <p class="legend">loading…</p>
            ) : (
              <Heatmap
                testId="attention-map"
                values={shown}
                rows={rows}
                cols={cols}
                label={
                  mode === 'rollout' ? 'attention rollout' : `${kindNames[kind]} of layer ${l} head ${h}`
                }
                rowLabels={rowLabels}
                colLabels={colLabels}
              />
            )}
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
              {Array.from({ length: L }, (_, ll) => (
                <>
                  <span class="grid-label">L{ll}</span>
                  {Array.from({ length: H }, (_, hh) => (
                    <HeadThumb
                      key={`${kind}-${ll}-${hh}`}
                      values={maps.get(keyOf(kind, ll, hh))}
                      rows={rows}
                      cols={cols}
                      label={`layer ${ll} head ${hh}`}
                      selected={mode === 'head' && ll === l && hh === h}
                      onSelect={() => {
                        setMode('head');
                        choose(ll, hh);
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
