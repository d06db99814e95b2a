/**
 * `--lora-targets q,k,v,o,gate,up,down`: the short names of a decoder's linear layers, as
 * PEFT target_modules of the loaded model. Each short name is looked up among the model's
 * own linear layers by the names Hugging Face families use (q_proj / attn.c_attn ...);
 * GPT-2 keeps q, k and v in one fused c_attn, so those three go together. A module name is
 * written bare (`c_proj`) when every layer of that name is chosen, else with its parent
 * (`attn.c_proj`), as PEFT matches names by path suffix.
 */
import { Linear, type Module } from '../nn/index.js';
import { ConfigError } from '../util/errors.js';

export const loraTargetNames = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;
export type LoraTargetName = (typeof loraTargetNames)[number];

/** The module-name suffixes a short name stands for, in Hugging Face's families. */
const aliases: Readonly<Record<LoraTargetName, readonly string[]>> = {
  q: ['q_proj', 'attn.c_attn'],
  k: ['k_proj', 'attn.c_attn'],
  v: ['v_proj', 'attn.c_attn'],
  o: ['o_proj', 'attn.c_proj'],
  gate: ['gate_proj'],
  up: ['up_proj', 'mlp.c_fc'],
  down: ['down_proj', 'mlp.c_proj'],
};

/** Parses the flag's comma list (each name once, known). */
export function parseLoraTargets(value: string): LoraTargetName[] {
  const names = value.split(',').map((name) => name.trim());
  const bad = names.find((name) => !(loraTargetNames as readonly string[]).includes(name));
  if (bad !== undefined || names.length === 0 || new Set(names).size !== names.length) {
    throw new ConfigError(bad === undefined ? 'each target once' : 'unknown LoRA target', {
      where: '--lora-targets',
      expected: `a comma list of ${loraTargetNames.join(', ')}`,
      actual: value,
    });
  }
  return names as LoraTargetName[];
}

/**
 * PEFT target_modules for `names` on `model`; `strict` (the flag was given) makes a name
 * the model has no layer for an error, else (the default list) it is left out.
 */
export function loraTargetModules(
  model: Module,
  names: readonly LoraTargetName[],
  strict: boolean,
): string[] {
  const linears = model
    .namedModules()
    .filter(([, module]) => module instanceof Linear)
    .map(([path]) => path);
  const has = (suffix: string): boolean => linears.some((path) => path.endsWith(`.${suffix}`));
  const chosen = new Set<string>();
  for (const name of names) {
    const suffix = aliases[name].find(has);
    if (suffix === undefined) {
      if (!strict) continue;
      throw new ConfigError('the model has no linear layer for this LoRA target', {
        where: '--lora-targets',
        actual: name,
        hint: `this model's linear layers: ${[...new Set(linears.map((p) => p.slice(p.lastIndexOf('.') + 1)))].join(', ')}`,
      });
    }
    chosen.add(suffix);
  }
  if (chosen.has('attn.c_attn') && !['q', 'k', 'v'].every((n) => names.includes(n as LoraTargetName))) {
    throw new ConfigError(
      'this model computes q, k and v in one fused projection (c_attn): target them together',
      {
        where: '--lora-targets',
        actual: names.join(','),
      },
    );
  }
  const modules = [...chosen].map((suffix) => {
    const leaf = suffix.slice(suffix.lastIndexOf('.') + 1);
    const sameLeaf = [
      ...new Set(
        linears
          .filter((p) => p.endsWith(`.${leaf}`))
          .map((p) =>
            p
              .slice(0, -leaf.length - 1)
              .split('.')
              .pop(),
          ),
      ),
    ];
    // Bare when every layer of that leaf name is chosen (PEFT matches `c_proj` in attn and mlp alike).
    const all = sameLeaf.every((parent) => chosen.has(`${parent}.${leaf}`) || chosen.has(leaf));
    return all ? leaf : suffix;
  });
  return [...new Set(modules)];
}
