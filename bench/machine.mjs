// The CPU description written into the benchmark results: the model name Node reports, and on Linux
// x86 the family/model numbers and the SIMD extensions that bear on the peers (native BLAS picks its
// kernels from them; wasm SIMD is 128-bit whatever they are).
import fs from 'node:fs';
import os from 'node:os';

export function cpuDescription() {
  const model = os.cpus()[0]?.model ?? 'unknown';
  let info = '';
  try {
    const text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const field = (name) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim();
    const flags = new Set((field('flags') ?? '').split(/\s+/));
    const simd = ['avx2', 'fma', 'avx512f'].filter((f) => flags.has(f));
    if (field('cpu family')) info = ` (x86 family ${field('cpu family')} model ${field('model')}${simd.length ? `; ${simd.join(', ')}` : ''})`;
  } catch {
    // not Linux, or not readable: the model name alone
  }
  return `${model}${info}`;
}
