/**
 * Strings that break tokenizers: emoji (ZWJ sequences, flags, skin tones), CJK, RTL,
 * combining marks, long digit runs, code, whitespace runs, contractions in odd cases,
 * U+0085/U+FEFF (where regex dialects disagree) and lone surrogates.
 */
export const STRESS_CASES: readonly string[] = [
  '',
  'Hello, world!',
  "I'm sure you'll see it's THEY'RE and we'VE 'Ll 'D 'S",
  '👨‍👩‍👧‍👦 family, 🇯🇵🇫🇷 flags, 👍🏽 tone, 🧑‍💻 coder, ❤️‍🔥',
  '日本語のテキストと中文文本，还有한국어 텍스트。',
  'שלום עולם! مرحبا بالعالم، كيف حالك؟ ‏RTL‏ mark',
  'e\u0301 a\u0308 n\u0303 Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǵ̟̬o combining',
  '3141592653589793238462643383279502884197169399375105820974944592307816406286',
  '1,000,000.00 and 12:30:45 and 2024-01-01 and v1.2.3',
  'function f(x) {\n\treturn x.map((y) => y ** 2).filter(Boolean);\n}\n',
  'def main():\n    if __name__ == "__main__":\n        print(f"{x!r:>10}")\n',
  '    leading spaces\n\n\n\ttabs\t\tand   trailing   \n   \n',
  ' '.repeat(100) + 'x' + '\n'.repeat(50) + '\r\n\r\n' + '\t'.repeat(20),
  'ALLCAPS WORDS and MiXeD CaSe and camelCaseWords and snake_case_words',
  '<html><body class="x">&amp; &lt;tag&gt;</body></html>',
  'URLs: https://example.com/path?q=1&r=2#frag mail@example.org',
  'math: ∀x∈ℝ, x² ≥ 0; ∑_{i=1}^{n} i = n(n+1)/2 ≈ ∞',
  'nel\u0085here bom\uFEFFthere nbsp\u00A0ideographic\u3000space',
  'lone \uD800 high and \uDC00 low and \uDBFF\uDBFF pair-less',
  'Ελληνικά και Русский текст и ქართული',
  "ſ long s: 'ſ and 'ſt and K Kelvin",
  "don't won't can't shouldn't y'all '''' '' '",
  '/* comment */ // another\n#include <stdio.h>\nint main(void) { return 0; }',
  '$$$ %%% ^^^ &&& *** ((( ))) ___ +++ === {{{ }}} ||| ~~~ ``` ...',
  'a\u200Bb\u200Cc\u200Dd zero width',
  '<|endoftext|> is only text here',
];

/** All cases joined, for one-shot parity runs. */
export const STRESS_TEXT = STRESS_CASES.join('\n');
