// The studio's web app: one tab per view, the model chosen once for all of them; the tab
// is kept in the URL's hash (#attention) so a view can be linked and reloaded.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { ModelSummary } from '../../src/studio/api-types.js';
import { getJson } from './api.js';
import './style.css';
import { AttentionView } from './views/attention.js';
import { ChatView } from './views/chat.js';
import { EmbeddingsView } from './views/embeddings.js';
import { FeedbackView } from './views/feedback.js';
import { NextTokenView } from './views/next-token.js';
import { TokensView } from './views/tokens.js';
import { TrainingView } from './views/training.js';

const views = [
  { id: 'tokens', name: 'Tokens', View: TokensView },
  { id: 'next-token', name: 'Next token', View: NextTokenView },
  { id: 'attention', name: 'Attention', View: AttentionView },
  { id: 'embeddings', name: 'Embeddings', View: EmbeddingsView },
  { id: 'training', name: 'Training', View: TrainingView },
  { id: 'chat', name: 'Chat', View: ChatView },
  { id: 'feedback', name: 'Feedback', View: FeedbackView },
] as const;

export interface ViewProps {
  readonly models: readonly ModelSummary[];
  /** The chosen model's id (undefined: none served). */
  readonly model: string | undefined;
}

function fromHash(): string {
  const id = location.hash.slice(1);
  return views.some((v) => v.id === id) ? id : 'tokens';
}

function App() {
  const [models, setModels] = useState<readonly ModelSummary[]>([]);
  const [model, setModel] = useState<string | undefined>(undefined);
  const [view, setView] = useState(fromHash());
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    getJson<ModelSummary[]>('/api/models').then(
      (list) => {
        setModels(list);
        setModel(list[0]?.id);
      },
      (e: Error) => setError(e.message),
    );
    const onHash = (): void => setView(fromHash());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  const current = views.find((v) => v.id === view)!;
  const summary = models.find((m) => m.id === model);
  return (
    <>
      <header>
        <h1>lmforge studio</h1>
        <nav role="tablist" aria-label="Views">
          {views.map((v) => (
            <button
              key={v.id}
              role="tab"
              id={`tab-${v.id}`}
              aria-selected={v.id === view}
              aria-controls="view"
              onClick={() => (location.hash = v.id)}
            >
              {v.name}
            </button>
          ))}
        </nav>
        <label class="model-picker">
          Model{' '}
          <select
            value={model ?? ''}
            onChange={(e) => setModel((e.currentTarget as HTMLSelectElement).value)}
            disabled={models.length === 0}
          >
            {models.length === 0 ? <option value="">no model served</option> : null}
            {models.map((m) => (
              <option key={m.id} value={m.id}>
                {m.id}
              </option>
            ))}
          </select>
        </label>
        {summary === undefined ? null : (
          <span class="model-facts">
            {summary.family}, {summary.kind}, {(summary.parameters / 1e6).toFixed(2)}M parameters, context{' '}
            {summary.maxPositions}
          </span>
        )}
      </header>
      {error === null ? null : (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <main>
        <section id="view" role="tabpanel" aria-labelledby={`tab-${view}`}>
          <h2>{current.name}</h2>
          <current.View key={`${view}:${model ?? ''}`} models={models} model={model} />
        </section>
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
