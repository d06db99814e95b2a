import { createModel, gpt2Preset, saveGguf, loadGguf } from './dist/src/models/index.js';
import { CharTokenizer } from './dist/src/tokenizers/index.js';
import './dist/src/index.js';
const text = "the cat sat on the mat.\nmy friend's dog ran to the park! 42 ü é\n".repeat(3) + '🦙';
const chars = CharTokenizer.fromText(text);
const config = gpt2Preset({ vocabSize: chars.vocabSize, nLayer: 1, nHead: 2, nEmbd: 32, blockSize: 16 });
await saveGguf(createModel(config), chars, '/tmp/gg/c.gguf', { type: 'f32' });
const l = await loadGguf('/tmp/gg/c.gguf');
const a = l.tokenizer.encode(text), b = chars.encode(text);
for (let i = 0; i < Math.max(a.length,b.length); i++) if (a[i] !== b[i]) { console.log(i, a.slice(i-3,i+5), b.slice(i-3,i+5), JSON.stringify(text.slice(i-3, i+5))); break; }
console.log(a.length, b.length);
