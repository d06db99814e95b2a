// Chat: a conversation through the model's chat template, streamed from
// /v1/chat/completions (OpenAI's SSE shape), with sampling controls.
import { useState } from 'preact/hooks';
import { streamChat, type ChatMessage } from '../api.js';
import type { ViewProps } from '../main.js';
import { SamplingControls, useSampling } from './sampling.js';

export function ChatView(props: ViewProps) {
  const [messages, setMessages] = useState<ChatMessage[]>([]);
  const [partial, setPartial] = useState<string | null>(null);
  const [input, setInput] = useState('');
  const [error, setError] = useState<string | null>(null);
  const sampling = useSampling(props.model);
  const summary = props.models.find((m) => m.id === props.model);
  const send = async (): Promise<void> => {
    const text = input.trim();
    if (text === '' || partial !== null) return;
    const history: ChatMessage[] = [...messages, { role: 'user', content: text }];
    setMessages(history);
    setInput('');
    setError(null);
    setPartial('');
    let reply = '';
    try {
      reply = await streamChat(history, sampling.settings, (piece) => setPartial((p) => (p ?? '') + piece));
      setMessages([...history, { role: 'assistant', content: reply }]);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setPartial(null);
    }
  };
  return (
    <section>
      {summary !== undefined && !summary.chat ? (
        <p class="note">
          This model has no chat template: fine-tune it with `lmforge finetune DIR --task sft` first.
        </p>
      ) : null}
      <SamplingControls sampling={sampling} />
      <ol class="messages" aria-live="polite" data-testid="messages">
        {messages.map((m, i) => (
          <li key={i} class={m.role}>
            <strong>{m.role}</strong> {m.content}
          </li>
        ))}
        {partial === null ? null : (
          <li class="assistant streaming">
            <strong>assistant</strong> {partial}
          </li>
        )}
      </ol>
      {error === null ? null : (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <form
        class="controls"
        onSubmit={(e) => {
          e.preventDefault();
          void send();
        }}
      >
        <label class="wide">
          Message
          <textarea
            rows={2}
            value={input}
            onInput={(e) => setInput((e.currentTarget as HTMLTextAreaElement).value)}
          />
        </label>
        <button type="submit" disabled={partial !== null}>
          Send
        </button>
        <button type="button" onClick={() => setMessages([])} disabled={partial !== null}>
          Clear
        </button>
      </form>
    </section>
  );
}
