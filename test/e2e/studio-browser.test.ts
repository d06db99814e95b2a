/**
 * The studio in a real browser: playwright-core driving Debian's chromium (CHROMIUM_PATH,
 * else /usr/bin/chromium; skipped, saying why, when it is missing) against `lmforge studio`
 * over a tiny trained GPT-2 run folder, a tiny Llama with a chat template, a tiny Marian
 * (`train --arch marian`, 5 steps: encoder, decoder and cross-attention), and a training run
 * started under --runs while the page is open. The Chat view streams from the OpenAI
 * server's own /v1/chat/completions, which `lmforge studio` mounts. Each view loads without console errors,
 * draws non-empty charts and answers its controls; a feedback answer lands in the JSONL.
 * Screenshots of every view go to a folder the test prints (LMFORGE_STUDIO_SHOTS, else a
 * temp folder); docs/studio/*.png are copies of them.
 */
/// <reference lib="dom" />
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { saveTinyChatModel, startStudio, type RunningStudio } from '../studio/fixture.js';
import { run, startTraining, tinyShape, type Started } from './cli-util.js';

const chromiumPath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const skip = existsSync(chromiumPath)
  ? false
  : `no chromium at ${chromiumPath} (apt-get install -y chromium, or set CHROMIUM_PATH)`;

const corpus = 'the cat sat on the mat. the dog sat on the log. a kitten and a puppy played.\n'.repeat(40);
const words = ['red', 'blue', 'green', 'cat', 'dog', 'sun', 'moon', 'tree'];
const pairs = Array.from({ length: 40 }, (_, i) => {
  const sentence = [0, 1, 2].slice(0, 2 + (i % 2)).map((k) => words[(i * 7 + k * 3) % words.length]!);
  return `${sentence.join(' ')}\t${[...sentence].reverse().join(' ')}\n`;
}).join('');

describe('the studio in chromium', { skip, timeout: 300_000 }, () => {
  let work: string;
  let shots: string;
  let studio: RunningStudio;
  let live: Started | undefined;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'lmforge-studio-e2e-'));
    shots = process.env['LMFORGE_STUDIO_SHOTS'] ?? join(work, 'screenshots');
    mkdirSync(shots, { recursive: true });
    process.stderr.write(`studio screenshots: ${shots}\n`);
    const data = join(work, 'data.txt');
    writeFileSync(data, corpus);
    const trained = run([
      'train',
      ...tinyShape,
      '--data',
      data,
      '--iters',
      '30',
      '--eval-every',
      '10',
      '--eval-iters',
      '2',
      '--out',
      join(work, 'gpt2-run'),
      '--no-progress',
    ]);
    assert.equal(trained.status, 0, trained.stderr);
    writeFileSync(join(work, 'pairs.tsv'), pairs);
    const marian = run([
      'train',
      '--arch',
      'marian',
      '--pairs',
      join(work, 'pairs.tsv'),
      '--tokenizer',
      'bpe:270',
      ...tinyShape,
      '--block-size',
      '48',
      '--iters',
      '5',
      '--eval-every',
      '5',
      '--eval-iters',
      '1',
      '--out',
      join(work, 'marian-run'),
      '--no-progress',
    ]);
    assert.equal(marian.status, 0, marian.stderr);
    await saveTinyChatModel(join(work, 'llama-chat'));
    mkdirSync(join(work, 'runs'));
    // The Llama (context 128) first: the views open on it; the GPT-2 run is a model and a run.
    studio = await startStudio([
      join(work, 'llama-chat'),
      join(work, 'gpt2-run'),
      join(work, 'marian-run'),
      '--runs',
      join(work, 'runs'),
      '--feedback',
      join(work, 'feedback.jsonl'),
    ]);
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
    page.on('pageerror', (error) => consoleErrors.push(error.message));
  });

  after(async () => {
    await browser?.close();
    if (live !== undefined) {
      live.child.kill('SIGTERM');
      await live.exited;
    }
    await studio?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** Opens a view by its tab, checks it rendered without console errors, and screenshots it. */
  async function openView(name: string, ready: string): Promise<void> {
    await page.getByRole('tab', { name, exact: true }).click();
    await page.waitForSelector(ready, { timeout: 20_000 });
    assert.deepEqual(consoleErrors, [], `console errors on ${name}`);
  }

  async function shoot(file: string): Promise<void> {
    await page.screenshot({ path: join(shots, file) });
  }

  it('Tokens: the model and the built-in encodings side by side', async () => {
    await page.goto(studio.url);
    await page.waitForSelector('[data-testid=token-results] article');
    const cards = page.locator('[data-testid=token-results] article');
    assert.equal(await cards.count(), 6); // three models, gpt2, cl100k_base, o200k_base
    assert.match((await cards.nth(3).locator('h3').textContent()) ?? '', /^gpt2 \d+ tokens/);
    assert.deepEqual(consoleErrors, []);
    await shoot('tokens.png');
  });

  it('Next token: bars, and top-k 1 leaves one bar; a greedy step extends the text', async () => {
    await openView('Next token', '[data-testid=filtered-bars] rect.bar');
    assert.ok((await page.locator('[data-testid=model-bars] rect.bar').count()) >= 10);
    await page.getByLabel('Top-k', { exact: true }).check();
    await page.getByLabel('top-k', { exact: true }).fill('1');
    await page.getByLabel('top-k', { exact: true }).press('Enter');
    await page.waitForFunction(
      () => document.querySelectorAll('[data-testid=filtered-bars] rect.bar').length === 1,
    );
    assert.equal((await page.locator('[data-testid=model-bars] rect.bar.cut-k').count()) >= 1, true);
    const before = await page.locator('[data-testid=continuation] .piece').count();
    await page.getByRole('button', { name: /^Step greedy/ }).click();
    await page.waitForFunction(
      (n) => document.querySelectorAll('[data-testid=continuation] .piece').length === n + 1,
      before,
    );
    assert.deepEqual(consoleErrors, []);
    await shoot('next-token.png');
  });

  it('Attention: changing the head changes the map; the grid holds every head', async () => {
    await openView('Attention', '[data-testid=attention-map]');
    const map = page.locator('[data-testid=attention-map]');
    const pixels = (): Promise<string> => map.evaluate((c) => (c as HTMLCanvasElement).toDataURL());
    const head0 = await pixels();
    assert.equal(await page.locator('[data-testid=head-grid] button.thumb').count(), 2 * 4); // 2 layers x 4 heads
    await page.getByLabel('Head', { exact: true }).selectOption('1');
    await page.waitForFunction((old) => {
      const canvas = document.querySelector('[data-testid=attention-map]') as HTMLCanvasElement | null;
      return canvas !== null && canvas.toDataURL() !== old;
    }, head0);
    await map.hover({ position: { x: 5, y: 5 } });
    assert.match(
      (await page.locator('[data-testid=attention-map-readout]').textContent()) ?? '',
      /→ .*: \d\.\d{4}$/,
    );
    await page.getByLabel('rollout across layers').check();
    await page.waitForSelector('text=Attention rollout');
    assert.deepEqual(consoleErrors, []);
    await page.getByLabel('one head').check();
    await shoot('attention.png');
  });

  it('Attention, Marian: cross-attention (target x source) of its translation; encoder and decoder maps', async () => {
    await page.locator('.model-picker select').selectOption('marian-run');
    await openView('Attention', 'h3:has-text("cross-attention (target x source)")');
    await page.waitForSelector('[data-testid=attention-map]');
    const target = (await page.locator('[data-testid=attention-target]').textContent()) ?? '';
    assert.match(target, /^target \(\d+ decoder inputs/);
    assert.equal(await page.locator('[data-testid=head-grid] button.thumb').count(), 1 * 2); // 1 layer x 2 heads
    const map = page.locator('[data-testid=attention-map]');
    const label = async (): Promise<string> => (await map.getAttribute('aria-label')) ?? '';
    const [rows, cols] = /(\d+) by (\d+)/
      .exec(await label())!
      .slice(1)
      .map(Number);
    await page.getByLabel('Which attention').selectOption('encoder');
    await page.waitForFunction(() =>
      document
        .querySelector('[data-testid=attention-map]')
        ?.getAttribute('aria-label')
        ?.startsWith('encoder'),
    );
    // The encoder's map is source x source: the cross map's columns.
    assert.match(await label(), new RegExp(`: ${cols} by ${cols};`));
    await page.getByLabel('Which attention').selectOption('decoder');
    await page.waitForFunction(() =>
      document
        .querySelector('[data-testid=attention-map]')
        ?.getAttribute('aria-label')
        ?.startsWith('decoder'),
    );
    assert.match(await label(), new RegExp(`: ${rows} by ${rows};`));
    await page.getByLabel('Which attention').selectOption('cross');
    await page.waitForSelector('[data-testid=attention-map]');
    await page.getByLabel('Source', { exact: true }).fill('red cat');
    await page.getByLabel("Target (empty: the model's translation)").fill('cat red');
    await page.getByRole('button', { name: 'Show attention' }).click();
    await page.waitForFunction(() =>
      document.querySelector('[data-testid=attention-target]')?.textContent?.includes('cat red'),
    );
    await page.waitForSelector('[data-testid=attention-map]');
    assert.deepEqual(consoleErrors, []);
    await shoot('attention-cross.png');
    await page.locator('.model-picker select').selectOption('llama-chat');
  });

  it('Embeddings: a PCA scatter, neighbours, and the positional heat maps', async () => {
    await openView('Embeddings', '[data-testid=embedding-scatter] circle');
    assert.ok((await page.locator('[data-testid=embedding-scatter] circle').count()) >= 4);
    assert.equal(await page.locator('[data-testid=neighbours] tbody tr').count(), 8);
    await page.waitForSelector('[data-testid=sinusoidal-map]');
    await page.waitForSelector('[data-testid=rope-map]');
    await page.getByLabel('Projection').selectOption('umap');
    await page.waitForSelector('text=by UMAP');
    assert.deepEqual(consoleErrors, []);
    await shoot('embeddings.png');
  });

  it('Training: the run’s curves, and a run started under --runs appears and grows live', async () => {
    await openView('Training', '[data-testid=chart-loss] canvas');
    for (const chart of ['chart-loss', 'chart-lr', 'chart-grad-norm', 'chart-tokens']) {
      assert.equal((await page.locator(`[data-testid=${chart}] canvas`).count()) >= 1, true, chart);
    }
    live = startTraining(
      [...tinyShape, '--data', join(work, 'data.txt'), '--out', join(work, 'runs', 'live')],
      { timeout: 200_000 },
    );
    await live.started;
    const label = page.locator('label', { hasText: 'runs/live' });
    await label.waitFor({ timeout: 30_000 });
    const step = async (): Promise<number> =>
      Number(/step (\d+)/.exec((await label.textContent()) ?? '')?.[1] ?? -1);
    const first = await step();
    const lossCanvas = page.locator('[data-testid=chart-loss] canvas').first();
    const drawn = await lossCanvas.evaluate((c) => (c as HTMLCanvasElement).toDataURL());
    await page.waitForFunction(
      (n) => {
        const text =
          Array.from(document.querySelectorAll('label')).find((l) => l.textContent?.includes('runs/live'))
            ?.textContent ?? '';
        return Number(/step (\d+)/.exec(text)?.[1] ?? -1) > n;
      },
      first,
      { timeout: 30_000 },
    );
    // The curves follow the run: the loss chart is redrawn with the new steps.
    await page.waitForFunction(
      (old) =>
        (document.querySelector('[data-testid=chart-loss] canvas') as HTMLCanvasElement).toDataURL() !== old,
      drawn,
      { timeout: 30_000 },
    );
    assert.deepEqual(consoleErrors, []);
    await shoot('training.png');
  });

  it('Chat: a streamed reply from the model with a chat template', async () => {
    await openView('Chat', 'textarea');
    await page.getByLabel('Max tokens').fill('12');
    await page.getByLabel('Message').fill('hello');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.waitForSelector('[data-testid=messages] li.assistant:not(.streaming)', { timeout: 30_000 });
    assert.equal(await page.locator('[data-testid=messages] li').count(), 2);
    assert.deepEqual(consoleErrors, []);
    await shoot('chat.png');
  });

  it('Feedback: a comparison lands in the JSONL, flushed when the page says so', async () => {
    await openView('Feedback', 'text=A is better');
    await page.getByLabel('Response A').fill('a small domesticated feline');
    await page.getByLabel('Response B').fill('a large farm vehicle');
    await page.getByRole('button', { name: 'A is better' }).click();
    await page.waitForSelector('[data-testid=feedback-status]');
    const lines = readFileSync(join(work, 'feedback.jsonl'), 'utf8').trim().split('\n');
    assert.equal(lines.length, 1);
    const record = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(record['prompt'], 'Define the word "cat".');
    assert.equal(record['chosen'], 'a small domesticated feline');
    assert.equal(record['rejected'], 'a large farm vehicle');
    assert.equal((record['metadata'] as Record<string, unknown>)['model'], 'llama-chat');
    assert.deepEqual(consoleErrors, []);
    await shoot('feedback.png');
  });

  it('keyboard and a narrow window: tabs work from the keyboard, nothing overflows at 420 px', async () => {
    await page.setViewportSize({ width: 420, height: 800 });
    await page.getByRole('tab', { name: 'Attention', exact: true }).focus();
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-testid=attention-map]');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 1, `the page is ${overflow} px wider than the window`);
    assert.deepEqual(consoleErrors, []);
    await shoot('attention-narrow.png');
  });
});
