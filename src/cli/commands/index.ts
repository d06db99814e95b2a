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
    description: 'Train a language model from scratch (defaults: nanoGPT shakespeare-char CPU run)',
    load: async () => (await import('./train.js')).trainCommand,
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
      'Fine-tune a model folder (--task sft: chat / instruction SFT, every weight or a LoRA adapter)',
    load: async () => (await import('./finetune.js')).finetuneCommand,
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
    name: 'eval',
    usage: '[options] <dir>',
    description: 'Loss and perplexity of a model on a text file (every token predicted once)',
    load: async () => (await import('./eval.js')).evalCommand,
  },
  {
    name: 'export',
    usage: '[options] <dir>',
    description: 'Write a model as a GGUF file that llama.cpp loads (f32, f16, q8_0 or q4_0)',
    load: async () => (await import('./export.js')).exportCommand,
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
