/**
 * `lmforge chat DIR`: a terminal chat with a model that has a chat template (one
 * `lmforge finetune --task sft` gave it, or an HF model's). Each turn renders the
 * conversation with the template, streams the reply to stdout and stops at the template's
 * end-of-turn token; the history is kept within the context by dropping the oldest turns,
 * which stderr says. Lines come from stdin (a terminal or a pipe); an empty line is skipped,
 * `/exit` or end of input ends the chat. With --message TEXT it answers once, and with
 * --json prints {"reply", "tokens", "tokens_per_s"}.
 */
import { createInterface } from 'node:readline';
import { Command } from 'commander';
import { chatStopIds, eosIdsFor, fitHistory, reply } from '../../generate/index.js';
import type { ChatMessage } from '../../tokenizers/index.js';
import { ConfigError } from '../../util/errors.js';
import { join } from 'node:path';
import { addComputeOptions, applyComputeOptions, type ComputeFlags } from '../compute-options.js';
import { isGgufPath, loadModelWithAdapter, readChatTemplate } from '../load-model.js';
import { addSamplingOptions, generationConfigFrom } from './generate.js';

interface ChatFlags extends ComputeFlags {
  system?: string;
  adapter?: string;
  message?: string;
  json?: boolean;
  maxTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  seed: number;
}

export function chatCommand(): Command {
  const command = addSamplingOptions(
    new Command('chat')
      .argument(
        '<dir>',
        'model folder with a chat template (tokenizer_config.json), or a .gguf file with one',
      )
      .option('--system <text>', 'a system message that opens the conversation')
      .option('--adapter <dir>', 'apply a LoRA adapter folder (PEFT format) over the model, unmerged')
      .option('--message <text>', 'answer this one message and exit')
      .option('--json', 'with --message: print {"reply","tokens","tokens_per_s"}'),
  );
  return addComputeOptions(command).action(async (dir: string, flags: ChatFlags) => {
    if (flags.json === true && flags.message === undefined) {
      throw new ConfigError('needs --message', { where: '--json' });
    }
    applyComputeOptions(flags, flags.json === true);
    const loaded = await loadModelWithAdapter(dir, flags.adapter);
    try {
      const { model, tokenizer } = loaded;
      const template = await readChatTemplate(loaded.configDir, loaded.tokenizerConfig);
      if (template === null) {
        throw new ConfigError('the model has no chat template', {
          where: isGgufPath(dir)
            ? `${dir}: tokenizer.chat_template`
            : join(loaded.configDir, 'tokenizer_config.json'),
          hint: 'fine-tune it with `lmforge finetune DIR --task sft`, which gives it one',
        });
      }
      const config = generationConfigFrom(flags, loaded.generationConfig, loaded.generationConfigWhere);
      const stopIds = chatStopIds(
        template,
        tokenizer,
        eosIdsFor(config, tokenizer, loaded.tokenizerConfigEos),
      );
      // Room the history leaves for the reply: --max-tokens, but at most an eighth of the
      // context (at least 8 tokens), so that a small model keeps its conversation; the reply
      // then ends at --max-tokens or where the context is full.
      const room = Math.min(config.maxNewTokens, Math.max(8, Math.floor(model.maxPositions / 8)));
      let messages: ChatMessage[] =
        flags.system === undefined ? [] : [{ role: 'system', content: flags.system }];
      const turn = async (
        text: string,
        stream: boolean,
      ): Promise<{ reply: string; tokens: number[]; seconds: number }> => {
        const fitted = fitHistory(
          template,
          tokenizer,
          [...messages, { role: 'user', content: text }],
          model.maxPositions - room,
        );
        if (fitted.dropped > 0) {
          process.stderr.write(
            `lmforge: the conversation is longer than the context (${model.maxPositions} tokens): dropped the ${fitted.dropped} oldest message${fitted.dropped === 1 ? '' : 's'}\n`,
          );
        }
        const started = performance.now();
        const tokens: number[] = [];
        let answer = '';
        for await (const token of reply(model, tokenizer, fitted.promptIds, { ...config, stopIds })) {
          tokens.push(token.id);
          answer += token.text;
          if (stream && token.text !== '') process.stdout.write(token.text);
        }
        messages = [...fitted.messages, { role: 'assistant', content: answer }];
        return { reply: answer, tokens, seconds: (performance.now() - started) / 1000 };
      };
      if (flags.message !== undefined) {
        const result = await turn(flags.message, flags.json !== true);
        if (flags.json === true) {
          process.stdout.write(
            JSON.stringify({
              reply: result.reply,
              tokens: result.tokens,
              tokens_per_s: result.tokens.length / result.seconds,
            }) + '\n',
          );
        } else process.stdout.write('\n');
        return;
      }
      const interactive = process.stdin.isTTY === true;
      if (interactive) process.stderr.write('chat: type a message, /exit to leave\n');
      const lines = createInterface({ input: process.stdin, terminal: false });
      if (interactive) process.stderr.write('> ');
      for await (const line of lines) {
        const text = line.trim();
        if (text === '/exit') break;
        if (text !== '') {
          await turn(text, true);
          process.stdout.write('\n');
        }
        if (interactive) process.stderr.write('> ');
      }
    } finally {
      loaded.dispose();
    }
  });
}
