/**
 * The registered subcommands, in the order `lmforge --help` lists them: each one's name,
 * usage and description, and a lazy import of the module that builds the full Command.
 * main() loads only the module of the command that runs, so `lmforge tokenize` never loads
 * the tensor, backend, model and training code, and `lmforge --help` loads none. The
 * description lives here only (loadCommand gives it to the full Command); the usage must
 * equal what the full Command declares, which test/cli/commands.test.ts checks.
 */
import type { Command } from 'commander';

export interface CommandEntry {
  readonly name: string;
  /** What `lmforge --help` lists after the name: `[options]` if it has any, then its arguments. */
  readonly usage: string;
  readonly description: string;
  /** The module's factory of the full Command (options, arguments, subcommands, action). */
  readonly load: () => Promise<() => Command>;
}

export const commands: readonly CommandEntry[] = [
  {
    name: 'tokenize',
    usage: '[options] [file]',
    description: 'Show the tokens and ids of a text (FILE, or - for stdin)',
    load: async () => (await import('./tokenize.js')).tokenizeCommand,
  },
  {
    name: 'tokenizer',
    usage: '',
    description: 'Tokenizer tools',
    load: async () => (await import('./tokenizer.js')).tokenizerCommand,
  },
  {
    name: 'train',
    usage: '[options]',
    description:
      'Train a language model from scratch (defaults: nanoGPT shakespeare-char CPU run), or a Marian translation model',
    load: async () => (await import('./train.js')).trainCommand,
  },
  {
    name: 'distill',
    usage: '[options] <teacher>',
    description:
      "Train a smaller student on a teacher's softened next-token distribution (a draft for generate --draft)",
    load: async () => (await import('./distill.js')).distillCommand,
  },
  {
    name: 'generate',
    usage: '[options] <dir>',
    description:
      'Generate text from a model folder or .gguf file (streams to stdout), or show next-token probabilities',
    load: async () => (await import('./generate.js')).generateCommand,
  },
  {
    name: 'serve',
    usage: '[options] <model...>',
    description: 'Serve models over an OpenAI-compatible HTTP API (chat, completions, embeddings, tools)',
    load: async () => (await import('./serve.js')).serveCommand,
  },
  {
    name: 'finetune',
    usage: '[options] <dir>',
    description:
      'Fine-tune a model folder (--task sft: chat / instruction SFT, every weight or a LoRA adapter; classify; tag)',
    load: async () => (await import('./finetune.js')).finetuneCommand,
  },
  {
    name: 'classify',
    usage: '[options] <dir>',
    description: 'Label texts with a sequence classifier (the label and the probability of each label)',
    load: async () => (await import('./classify.js')).classifyCommand,
  },
  {
    name: 'tag',
    usage: '[options] <dir>',
    description: 'Tag the words of a text with a token classifier, and list the entities',
    load: async () => (await import('./tag.js')).tagCommand,
  },
  {
    name: 'embed',
    usage: '[options] <dir>',
    description: 'Sentence embeddings of texts (mean or [CLS] pooling) and their cosine similarities',
    load: async () => (await import('./embed.js')).embedCommand,
  },
  {
    name: 'align',
    usage: '',
    description: 'Preference alignment: DPO / IPO / cDPO on pairs, RLOO and GRPO on a reward',
    load: async () => (await import('./align.js')).alignCommand,
  },
  {
    name: 'score',
    usage: '[options] <dir>',
    description: "Log-probability of a response given a prompt (DPO's implicit reward is made of it)",
    load: async () => (await import('./score.js')).scoreCommand,
  },
  {
    name: 'chat',
    usage: '[options] <dir>',
    description: 'Chat with a model that has a chat template (streams replies; --message TEXT answers once)',
    load: async () => (await import('./chat.js')).chatCommand,
  },
  {
    name: 'lora',
    usage: '',
    description: 'LoRA adapter tools (merge an adapter into its base)',
    load: async () => (await import('./lora.js')).loraCommand,
  },
  {
    name: 'translate',
    usage: '[options] <dir>',
    description: 'Translate texts with an encoder-decoder model folder (greedy or beam search)',
    load: async () => (await import('./translate.js')).translateCommand,
  },
  {
    name: 'feedback',
    usage: '[options] <dir>',
    description:
      'Collect human feedback: generate responses to prompts and record pairs (a/b/tie) or ratings (1-5)',
    load: async () => (await import('./feedback.js')).feedbackCommand,
  },
  {
    name: 'reward',
    usage: '',
    description: 'Reward models (train one on preference pairs, score responses with one)',
    load: async () => (await import('./reward.js')).rewardCommand,
  },
  {
    name: 'eval',
    usage: '[options] <dir>',
    description:
      'Perplexity of a model (or an ARPA n-gram model) on a text file, zero/few-shot accuracy on tasks, or BLEU and chrF of an encoder-decoder on sentence pairs',
    load: async () => (await import('./eval.js')).evalCommand,
  },
  {
    name: 'export',
    usage: '[options] <dir>',
    description: 'Write a model as a GGUF file that llama.cpp loads (f32, f16, q8_0 or q4_0)',
    load: async () => (await import('./export.js')).exportCommand,
  },
  {
    name: 'quantize',
    usage: '[options] <dir>',
    description:
      "Write a model as a Q8_0 or Q4_0 GGUF file (llama-quantize's choices) that generate, chat and eval run quantized",
    load: async () => (await import('./quantize.js')).quantizeCommand,
  },
  {
    name: 'ngram',
    usage: '',
    description: 'N-gram language models (Kneser-Ney, ARPA files): train, eval, generate',
    load: async () => (await import('./ngram.js')).ngramCommand,
  },
  {
    name: 'studio',
    usage: '[options] [dirs...]',
    description:
      'Serve the studio, a web app that looks inside models (tokens, next token, attention, embeddings, training runs, chat, feedback)',
    load: async () => (await import('./studio.js')).studioCommand,
  },
  {
    name: 'demo',
    usage: '[options]',
    description: 'Train a small model on the built-in WordNet corpus for a few minutes, then generate',
    load: async () => (await import('./demo.js')).demoCommand,
  },
  {
    name: 'bench',
    usage: '',
    description: 'Micro-benchmarks of the compute kernels',
    load: async () => (await import('./bench.js')).benchCommand,
  },
  {
    name: 'info',
    usage: '[options] [dir]',
    description: 'Compute backend, instruction set and threads (or, with DIR, a model folder or .gguf file)',
    load: async () => (await import('./info.js')).infoCommand,
  },
];

/** The full Command of an entry, with the entry's description. */
export async function loadCommand(entry: CommandEntry): Promise<Command> {
  return (await entry.load())().description(entry.description);
}

/** Every command fully built, in order: for tests that walk the whole command tree. */
export function commandTree(): Promise<Command[]> {
  return Promise.all(commands.map(loadCommand));
}
