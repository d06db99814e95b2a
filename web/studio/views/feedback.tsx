// Feedback: rate one response (1-5) or compare two responses to a prompt; each answer is
// appended to the preference JSONL (`--feedback FILE`) and flushed before it is confirmed.
import { useState } from 'preact/hooks';
import type { FeedbackRequest } from '../../../src/studio/api-types.js';
import { completeChat, postJson } from '../api.js';
import type { ViewProps } from '../main.js';
import { SamplingControls, useSampling } from './sampling.js';

export function FeedbackView(props: ViewProps) {
  const [mode, setMode] = useState<'rating' | 'comparison'>('comparison');
  const [prompt, setPrompt] = useState('Define the word "cat".');
  const [first, setFirst] = useState('');
  const [second, setSecond] = useState('');
  const [status, setStatus] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const sampling = useSampling(props.model);
  const summary = props.models.find((m) => m.id === props.model);
  const generate = async (): Promise<void> => {
    setBusy(true);
    setError(null);
    try {
      const messages = [{ role: 'user' as const, content: prompt }];
      const a = await completeChat(messages, sampling.settings);
      setFirst(a);
      if (mode === 'comparison')
        setSecond(await completeChat(messages, { ...sampling.settings, seed: sampling.settings.seed + 1 }));
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const submit = async (answer: FeedbackRequest): Promise<void> => {
    setError(null);
    try {
      const saved = await postJson<{ file: string }>('/api/feedback', answer);
      setStatus(`Saved to ${saved.file}`);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const model = props.model === undefined ? {} : { model: props.model };
  const textarea = (label: string, value: string, set: (v: string) => void) => (
    <label class="wide">
      {label}
      <textarea rows={3} value={value} onInput={(e) => set((e.currentTarget as HTMLTextAreaElement).value)} />
    </label>
  );
  return (
    <section>
      <fieldset class="controls">
        <legend>Task</legend>
        <label class="check">
          <input
            type="radio"
            name="feedback-mode"
            checked={mode === 'comparison'}
            onChange={() => setMode('comparison')}
          />
          compare two responses
        </label>
        <label class="check">
          <input
            type="radio"
            name="feedback-mode"
            checked={mode === 'rating'}
            onChange={() => setMode('rating')}
          />
          rate one response
        </label>
      </fieldset>
      <SamplingControls sampling={sampling} />
      <form class="controls" onSubmit={(e) => e.preventDefault()}>
        {textarea('Prompt', prompt, setPrompt)}
        <button type="button" onClick={() => void generate()} disabled={busy || summary?.chat !== true}>
          Generate {mode === 'comparison' ? 'two responses' : 'a response'}
        </button>
        {summary?.chat === true ? null : (
          <p class="note">This model has no chat template: type the responses yourself.</p>
        )}
        {textarea(mode === 'comparison' ? 'Response A' : 'Response', first, setFirst)}
        {mode === 'comparison' ? textarea('Response B', second, setSecond) : null}
      </form>
      <div class="controls" role="group" aria-label="Your answer">
        {mode === 'comparison' ? (
          <>
            <button
              type="button"
              onClick={() =>
                void submit({ kind: 'comparison', prompt, chosen: first, rejected: second, ...model })
              }
            >
              A is better
            </button>
            <button
              type="button"
              onClick={() =>
                void submit({ kind: 'comparison', prompt, chosen: second, rejected: first, ...model })
              }
            >
              B is better
            </button>
          </>
        ) : (
          [1, 2, 3, 4, 5].map((rating) => (
            <button
              key={rating}
              type="button"
              aria-label={`rate ${rating} of 5`}
              onClick={() => void submit({ kind: 'rating', prompt, response: first, rating, ...model })}
            >
              {rating}
            </button>
          ))
        )}
      </div>
      {status === null ? null : (
        <p role="status" data-testid="feedback-status">
          {status}
        </p>
      )}
      {error === null ? null : (
        <p role="alert" class="error">
          {error}
        </p>
      )}
    </section>
  );
}
