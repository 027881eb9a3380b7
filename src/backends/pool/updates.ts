/**
 * Parameter updates spread across the pool's threads (the leader's `UpdateRunner`).
 *
 * Each parameter's update has an estimated cost (`OptimizerDef.cost`: a refresh step's decomposition
 * costs far more than a steady step). A parameter costing more than a fair share (total / threads) is
 * updated first, by the leader, with its large kernel calls split across all threads; the others are
 * dealt to the threads by longest-processing-time first (each to the least-loaded thread, ties to the
 * lowest thread), and every thread runs its own list with unsplit kernels and its own scratch. A
 * parameter's update reads and writes only its own params, gradient and state, and every kernel gives
 * the same bits split or whole, so results do not depend on the number of threads or on the dealing.
 *
 * The helpers read the step's plan from the channel: a growable SharedArrayBuffer holding one error
 * area per helper slot and the serialized plan with the lists (`node:v8` serialization, which keeps
 * every number exactly), written before the command is published through the control block.
 */
import { deserialize, serialize } from 'node:v8';
import { runUpdate, updateCost, type StepPlan, type UpdateRunner } from '../../engine.js';
import { FisheroptError, type ErrorCode } from '../../errors.js';
import type { Kernels } from '../../kernels.js';
import { Dispatcher, HelperFailure } from './parallel-kernels.js';
import { MAX_HELPERS } from './protocol.js';
import { saveParam } from './rollback.js';

/** The command (in place of a kernel index) that makes a helper run its list of parameter updates. */
export const UPDATES_COMMAND = -1;

const HEADER = 16;
const ERROR_BYTES = 1024;
const PAYLOAD = HEADER + MAX_HELPERS * ERROR_BYTES;
const MAX_CHANNEL = 1 << 28;

export interface UpdatesPayload {
  plan: StepPlan;
  lrFactor: number;
  /** The step's rollback token (`rollback.ts`). */
  token: number;
  /** Per helper slot: the updates it runs, as [group, index, group, index, …]. */
  lists: number[][];
}

/** A new plan channel (shared with every worker through workerData). */
export function createChannel(): SharedArrayBuffer {
  const Sab = SharedArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => SharedArrayBuffer;
  return new Sab(PAYLOAD + (64 << 10), { maxByteLength: MAX_CHANNEL });
}

/** Write the payload; false when it does not fit the channel's maximum size. */
function writePayload(chan: SharedArrayBuffer, payload: UpdatesPayload): boolean {
  const bytes = serialize(payload);
  const need = PAYLOAD + bytes.length;
  if (need > MAX_CHANNEL) return false;
  const growable = chan as unknown as { byteLength: number; grow(n: number): void };
  if (growable.byteLength < need) growable.grow(Math.min(MAX_CHANNEL, Math.max(need, 2 * growable.byteLength)));
  new Uint8Array(chan, PAYLOAD, bytes.length).set(bytes);
  const i32 = new Int32Array(chan, 0, 2);
  i32[1] = bytes.length;
  i32[0] = (i32[0] + 1) | 0;
  return true;
}

let cached: { version: number; payload: UpdatesPayload } | undefined;

/** The payload last written (decoded once per version in each worker). */
export function readPayload(chan: SharedArrayBuffer): UpdatesPayload {
  const i32 = new Int32Array(chan, 0, 2);
  const version = Atomics.load(i32, 0);
  if (cached?.version !== version) {
    const bytes = new Uint8Array(chan, PAYLOAD, i32[1]).slice();
    cached = { version, payload: deserialize(bytes) as UpdatesPayload };
  }
  return cached.payload;
}

export function writeError(chan: SharedArrayBuffer, slot: number, code: string, message: string): void {
  const text = new TextEncoder().encode(JSON.stringify({ code, message }));
  const area = new Uint8Array(chan, HEADER + slot * ERROR_BYTES, ERROR_BYTES);
  const n = Math.min(text.length, ERROR_BYTES - 4);
  new DataView(chan, HEADER + slot * ERROR_BYTES, 4).setUint32(0, n, true);
  area.set(text.subarray(0, n), 4);
}

export function clearError(chan: SharedArrayBuffer, slot: number): void {
  new DataView(chan, HEADER + slot * ERROR_BYTES, 4).setUint32(0, 0, true);
}

function readError(chan: SharedArrayBuffer, slot: number): { code: string; message: string } | undefined {
  const n = new DataView(chan, HEADER + slot * ERROR_BYTES, 4).getUint32(0, true);
  if (n === 0) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(new Uint8Array(chan, HEADER + slot * ERROR_BYTES + 4, n).slice()));
  } catch {
    return undefined;
  }
}

/** Run helper `slot`'s list of the current payload with its own kernels and scratch. */
export function runUpdateList(chan: SharedArrayBuffer, slot: number, k: Kernels, memory: WebAssembly.Memory, marks: Int32Array): void {
  clearError(chan, slot);
  const { plan, lrFactor, lists, token } = readPayload(chan);
  const list = lists[slot] ?? [];
  const scratch = plan.threadScratch![slot];
  try {
    for (let j = 0; j < list.length; j += 2) {
      saveParam(plan, list[j], list[j + 1], k, marks, token);
      runUpdate(plan, lrFactor, list[j], list[j + 1], k, memory, scratch);
    }
  } catch (e) {
    writeError(chan, slot, e instanceof FisheroptError ? e.code : 'WORKER_FAILED', (e as Error).message);
    throw e;
  }
}

/**
 * Deal tasks (costs) to `threads` bins, longest first, each to the least-loaded bin (ties to the
 * lowest bin; equal costs in plan order). Returns the bin of each task.
 */
export function deal(costs: readonly number[], threads: number): number[] {
  const order = costs.map((c, i) => [c, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  const load = new Array<number>(threads).fill(0);
  const bin = new Array<number>(costs.length).fill(0);
  for (const [c, i] of order) {
    let best = 0;
    for (let b = 1; b < threads; b++) if (load[b] < load[best]) best = b;
    bin[i] = best;
    load[best] += c;
  }
  return bin;
}

/**
 * The leader's runner: `split` are the leader's splitting kernels, `local` its unsplit ones. Work
 * below `minWork` per thread stays on the leader, in plan order. Every update is preceded by the backup
 * of its parameter, on the thread that runs it (`saveParam`, marked with the step's `token`).
 */
export function poolUpdates(dispatcher: Dispatcher, chan: SharedArrayBuffer, local: Kernels, minWork: number, marks: Int32Array, token: number): UpdateRunner {
  return (plan, lrFactor, split, memory, resolve) => {
    const update = (gi: number, pi: number, k: Kernels) => {
      saveParam(plan, gi, pi, k, marks, token);
      runUpdate(plan, lrFactor, gi, pi, k, memory, plan.scratch, resolve);
    };
    const hs = dispatcher.helpers().filter((w) => plan.threadScratch?.[w] !== undefined);
    const tasks: [group: number, index: number, cost: number][] = [];
    plan.groups.forEach((g, gi) => g.params.forEach((_, pi) => tasks.push([gi, pi, updateCost(plan, gi, pi, resolve)])));
    const threads = hs.length + 1;
    const total = tasks.reduce((a, t) => a + t[2], 0);
    if (hs.length === 0 || tasks.length < 2 || total < minWork * threads) {
      for (const [gi, pi] of tasks) update(gi, pi, split);
      return;
    }

    const fair = total / threads;
    for (const [gi, pi, c] of tasks) if (c > fair) update(gi, pi, split);
    const rest = tasks.filter((t) => t[2] <= fair);
    if (rest.length === 0) return;
    const bins = deal(rest.map((t) => t[2]), threads);
    const lists: number[][] = Array.from({ length: MAX_HELPERS }, () => []);
    const own: number[] = [];
    rest.forEach(([gi, pi], j) => (bins[j] === 0 ? own : lists[hs[bins[j] - 1]]).push(gi, pi));
    const used = hs.filter((w) => lists[w].length > 0);
    if (used.length === 0 || !writePayload(chan, { plan, lrFactor, token, lists })) {
      for (const [gi, pi] of rest) update(gi, pi, split);
      return;
    }
    const seq = dispatcher.nextSeq();
    for (const w of used) dispatcher.post(w, seq, UPDATES_COMMAND, []);
    dispatcher.wake(seq);
    let ownError: unknown;
    try {
      for (let j = 0; j < own.length; j += 2) update(own[j], own[j + 1], local);
    } catch (e) {
      ownError = e;
    }
    const failed = dispatcher.wait(used, seq);
    if (ownError) throw ownError;
    for (const w of failed) {
      const err = readError(chan, w);
      if (err) throw new FisheroptError(err.code as ErrorCode, `pool worker #${w + 1}: ${err.message}`);
    }
    if (failed.length) {
      throw new HelperFailure('WORKER_FAILED', `pool worker ${failed.map((w) => `#${w + 1}`).join(', ')} failed during parameter updates`);
    }
  };
}
