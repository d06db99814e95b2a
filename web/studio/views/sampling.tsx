// The sampling controls Chat and Feedback share (temperature, top-p, max tokens, seed).
import { useState } from 'preact/hooks';
import type { ChatSettings } from '../api.js';

export function useSampling(model: string | undefined) {
  const [temperature, setTemperature] = useState(0.8);
  const [topP, setTopP] = useState(0.95);
  const [maxTokens, setMaxTokens] = useState(64);
  const [seed, setSeed] = useState(0);
  const settings: ChatSettings = { model, temperature, topP, maxTokens, seed };
  return { settings, setTemperature, setTopP, setMaxTokens, setSeed };
}

export function SamplingControls(props: { readonly sampling: ReturnType<typeof useSampling> }) {
  const { settings, setTemperature, setTopP, setMaxTokens, setSeed } = props.sampling;
  const number = (e: Event): number => Number((e.currentTarget as HTMLInputElement).value);
  return (
    <fieldset class="controls">
      <legend>Sampling</legend>
      <label>
        Temperature {settings.temperature.toFixed(2)}
        <input
          type="range"
          min={0}
          max={2}
          step={0.05}
          value={settings.temperature}
          onInput={(e) => setTemperature(number(e))}
        />
      </label>
      <label>
        Top-p {settings.topP.toFixed(2)}
        <input
          type="range"
          min={0.05}
          max={1}
          step={0.05}
          value={settings.topP}
          onInput={(e) => setTopP(number(e))}
        />
      </label>
      <label>
        Max tokens
        <input
          type="number"
          min={1}
          max={4096}
          value={settings.maxTokens}
          onChange={(e) => setMaxTokens(Math.max(1, number(e)))}
        />
      </label>
      <label>
        Seed
        <input
          type="number"
          min={0}
          value={settings.seed}
          onChange={(e) => setSeed(Math.max(0, number(e)))}
        />
      </label>
    </fieldset>
  );
}
