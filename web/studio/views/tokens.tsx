// Tokens: a text's pieces and ids under several tokenizers side by side, with counts.
import { useEffect, useState } from 'preact/hooks';
import type { TokenizeResult } from '../../../src/studio/api-types.js';
import { postJson } from '../api.js';
import type { ViewProps } from '../main.js';
import { ErrorLine, useRequest } from './use-request.js';

const encodings = ['gpt2', 'cl100k_base', 'o200k_base'];

export function TokensView(props: ViewProps) {
  const [text, setText] = useState('The cat sat on the mat. Tokenizers split "unbelievable" differently.');
  const [chosen, setChosen] = useState<string[]>([...props.models.map((m) => m.id), ...encodings]);
  const request = useRequest((body: { text: string; tokenizers: string[] }) =>
    postJson<{ results: TokenizeResult[] }>('/api/tokenize', body),
  );
  const all = [...props.models.map((m) => m.id), ...encodings];
  const go = (): void => void request.run({ text, tokenizers: chosen.length === 0 ? all : chosen });
  useEffect(go, []);
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
          Text
          <textarea
            rows={3}
            value={text}
            onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)}
          />
        </label>
        <fieldset>
          <legend>Tokenizers</legend>
          {all.map((name) => (
            <label key={name} class="check">
              <input
                type="checkbox"
                checked={chosen.includes(name)}
                onChange={(e) =>
                  setChosen(
                    (e.currentTarget as HTMLInputElement).checked
                      ? [...chosen, name]
                      : chosen.filter((n) => n !== name),
                  )
                }
              />
              {name}
            </label>
          ))}
        </fieldset>
        <button type="submit" disabled={request.busy}>
          Tokenize
        </button>
      </form>
      <ErrorLine error={request.error} />
      <div class="columns" data-testid="token-results">
        {(request.result?.results ?? []).map((r) => (
          <article key={r.tokenizer} class="card">
            <h3>
              {r.tokenizer}{' '}
              <span class="count">
                {r.ids.length} tokens, {r.characters} characters
              </span>
            </h3>
            <p class="pieces">
              {r.pieces.map((piece, i) => (
                <span key={i} class={`piece c${i % 6}`} title={`id ${r.ids[i]}`}>
                  {piece.replace(/ /g, '\u00a0').replace(/\n/g, '↵')}
                </span>
              ))}
            </p>
            <p class="ids">{r.ids.join(' ')}</p>
          </article>
        ))}
      </div>
    </section>
  );
}
