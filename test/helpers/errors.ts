/** Assertions on the library's errors. */
import { expect } from 'vitest';
import { FisheroptError } from '../../dist/index.js';

/** `p` (a promise, or a function called now) fails with a FisheroptError of `code` whose message matches `text`. */
export async function expectError(p: Promise<unknown> | (() => unknown), code: string, text: RegExp): Promise<void> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, 'expected an error').toBeInstanceOf(FisheroptError);
  expect((err as FisheroptError).code).toBe(code);
  expect((err as Error).message).toMatch(text);
}
