/**
 * Loads TensorFlow.js for the training job: `@tensorflow/tfjs-core` (an optional peer dependency), its
 * gradient registrations (the Node entry of tfjs-core registers none; `dist/tfjs/register-gradients.js` is
 * tfjs-core's `register_all_gradients` bundled by the build), and a backend: `wasm`
 * (`@tensorflow/tfjs-backend-wasm`, SIMD, one thread in Node) or the pure-JS `cpu` backend it depends on,
 * 15–25× slower, used only as a fallback or on request.
 */
import type * as TF from '@tensorflow/tfjs-core';
import { FisheroptError } from '../errors.js';

export type Tf = typeof TF;
export type TfBackend = 'wasm' | 'cpu';

const INSTALL = 'npm install @tensorflow/tfjs-core @tensorflow/tfjs-backend-wasm';

async function importOptional(name: string, why: string): Promise<unknown> {
  try {
    const m = (await import(name)) as { default?: unknown };
    return m.default ?? m;
  } catch (e) {
    throw new FisheroptError('BACKEND_UNAVAILABLE', `${why} needs ${name}, which could not be loaded (${(e as Error).message.split('\n')[0]}); install it with: ${INSTALL}`);
  }
}

let loaded: Tf | undefined;

/**
 * TF.js with gradients registered and `backend` active (`auto`: wasm, else cpu with a warning).
 * Returns the backend in use.
 */
export async function loadTf(backend: TfBackend | 'auto' = 'auto', warn: (msg: string) => void = (m) => console.warn(m)): Promise<{ tf: Tf; backend: TfBackend }> {
  if (backend !== 'auto' && backend !== 'wasm' && backend !== 'cpu') {
    throw new FisheroptError('UNKNOWN_BACKEND', `unknown TF.js backend ${JSON.stringify(backend)}; use wasm, cpu or auto`);
  }
  if (!loaded) {
    const tf = (await importOptional('@tensorflow/tfjs-core', 'the training job')) as Tf;
    tf.enableProdMode();
    await import(new URL('../tfjs/register-gradients.js', import.meta.url).href);
    loaded = tf;
  }
  const tf = loaded;
  if (backend !== 'cpu') {
    try {
      await importOptional('@tensorflow/tfjs-backend-wasm', 'the wasm backend');
      if (!(await tf.setBackend('wasm'))) throw new Error('tf.setBackend("wasm") failed');
      await tf.ready();
      return { tf, backend: 'wasm' };
    } catch (e) {
      if (backend === 'wasm') {
        throw e instanceof FisheroptError ? e : new FisheroptError('BACKEND_UNAVAILABLE', `the TF.js wasm backend could not start: ${(e as Error).message}`);
      }
      warn(`fisheropt: TF.js wasm backend unavailable (${(e as Error).message.split('\n')[0]}); using the cpu backend, 15-25x slower`);
    }
  }
  await importOptional('@tensorflow/tfjs-backend-cpu', 'the cpu backend');
  if (!(await tf.setBackend('cpu'))) throw new FisheroptError('BACKEND_UNAVAILABLE', 'the TF.js cpu backend could not start');
  await tf.ready();
  return { tf, backend: 'cpu' };
}
