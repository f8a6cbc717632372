/**
 * Text that exercises every part of a tokenizer: regex pre-splitting (contractions, case changes, digit groups,
 * punctuation runs, whitespace runs and newlines), byte-level and byte-fallback encoding (emoji with ZWJ and
 * variation selectors, CJK, Arabic, Devanagari, Thai), Unicode normalization and added tokens inside words.
 */
export const tokenizerCorpus: readonly string[] = [
  "The quick brown fox jumps over the lazy dog. It's 5 o'clock; we're \"late\" -- aren't we?",
  "I'VE been told he'S there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL",
  'HTTPServer getHTTPResponseCode camelCaseWord ALLCAPS iPhone McDonald mIxEd CaSe',
  'def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n',
  'function main() {\n\tconst values = [1, 2, 3];\n\tfor (const value of values) {\n\t\tconsole.log(`${value}`);\n\t}\n}\n',
  '#include <stdio.h>\nint main(void) { printf("%d\\n", 42); return 0; }  // comment\r\n',
  '👩‍👩‍👧‍👦 family 🏳️‍🌈 flag 👍🏽 thumbs 🦙🦙 llamas 😶‍🌫️ ✅ 🚀 (normal)',
  '我想在apple工作1314151天～ 日本語のテキストです。 안녕하세요 세계! 繁體中文測試',
  'مرحبا بالعالم، كيف حالك اليوم؟ ١٢٣ — שלום עולם',
  'नमस्ते दुनिया। สวัสดีชาวโลก Привет, мир! нещо на Български Ελληνικά',
  '3 33 333 3333 33333 333333 3333333 33333333 1234567890123456789 3.14159 1,000,000 -42 0x1F 1e-10',
  '3.3 3..3 3...3 12:30pm 2026-12-03 $19.99 50% #1',
  'a  b   c    d     e\n\n\n   \t \t\t end   ',
  '   leading spaces and trailing spaces   ',
  `indent${' '.repeat(40)}x${'\t'.repeat(35)}y${'\n'.repeat(33)}z${' \n'.repeat(5)}`,
  'line one\nline two\r\nline three\n\n\nline four\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n',
  "''''''```````\"\"\"\"......!!!!!!?????? ------======= ~~~ <<>> ::: ;;",
  'https://example.com/a/b?c=d&e=f#g /usr/local/bin C:\\Windows\\System32 user@example.org',
  'Cafe\u0301 nai\u0308ve re\u0301sume\u0301 — composed: Café naïve résumé',
  'Ａｂｃ　ｆｕｌｌｗｉｄｔｈ　１２３ ﬁ ligature ½ ² ℕ',
  '\u0000\u0001 control \u007f chars \u200b zero width \ufeff bom',
  '',
  ' ',
  '\n',
]
