/**
 * Tiny models for the studio's tests: a Llama-preset decoder (RoPE) with a character
 * tokenizer and the built-in ChatML template in its tokenizer_config.json, saved as a model
 * folder; and a way to start `lmforge studio` and read the URL it prints.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createModel, llamaPreset, saveModelFolder, type LanguageModel } from '../../src/models/index.js';
import { CharTokenizer, builtinChatTemplates } from '../../src/tokenizers/index.js';
import { bin, cliEnv } from '../e2e/cli-util.js';

/** Every character ChatML and the test texts use. */
const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?\'"<>|_-\n()[]{}+*/=';

export const tinyTokenizer = CharTokenizer.fromText(alphabet);

/** A 2-layer, 4-head, 32-wide Llama over the characters, seed 7. */
export function tinyLlama(): LanguageModel {
  return createModel(
    llamaPreset({
      vocabSize: tinyTokenizer.vocabSize,
      nLayer: 2,
      nHead: 4,
      nKvHead: 4,
      nEmbd: 32,
      blockSize: 128,
    }),
    { seed: 7 },
  );
}

/** Saves tinyLlama() with the tokenizer and the ChatML template into `dir`. */
export async function saveTinyChatModel(dir: string): Promise<void> {
  const model = tinyLlama();
  try {
    await saveModelFolder(dir, model, {
      tokenizerJson: tinyTokenizer.toJSON(),
      tokenizerConfig: { chat_template: builtinChatTemplates.chatml.source, eos_token: null },
    });
  } finally {
    model.dispose();
  }
}

export interface RunningStudio {
  readonly url: string;
  readonly child: ChildProcessWithoutNullStreams;
  stderr(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `lmforge studio ...args --port 0` and resolves once it prints its URL. */
export function startStudio(args: readonly string[]): Promise<RunningStudio> {
  const child = spawn(process.execPath, [bin, 'studio', ...args, '--port', '0'], { env: cliEnv() });
  child.stdin.end();
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const match = /lmforge studio: (http:\/\/\S+)\n/.exec(stdout);
      if (match !== null) {
        resolve({
          url: match[1]!,
          child,
          stderr: () => stderr,
          stop: async () => {
            child.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
    child.on('exit', (code) => reject(new Error(`studio exited (${code}) before listening: ${stderr}`)));
  });
}
