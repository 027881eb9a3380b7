/**
 * The saved-state format: one binary blob, independent of the backend that wrote it.
 *
 *   bytes 0..7    magic "FSHROPT\0"
 *   bytes 8..11   format version (u32 LE), currently 1
 *   bytes 12..15  header length H in bytes (u32 LE)
 *   16..16+H      header: UTF-8 JSON (optimizer per group, options, step, param names, shapes, slots)
 *   pad to 4      zeros
 *   payload       f32 LE: for each parameter in header order, its values (when `includesParams`),
 *                 then each slot in header order
 *   last 4 bytes  CRC-32 (IEEE) of everything before it (u32 LE)
 */
import { FisheroptError } from './errors.js';
import type { Options, Schedule } from './options.js';

export const MAGIC = 'FSHROPT\0';
export const FORMAT_VERSION = 1;

export interface StateHeader {
  format: 'fisheropt-state';
  version: number;
  step: number;
  skippedSteps: number;
  schedule: Schedule;
  includesParams: boolean;
  groups: { optimizer: string; options: Options; params: string[] }[];
  params: { name: string; shape: number[]; slots: { name: string; length: number }[]; step0?: number }[];
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320). */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[i] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = crcTable[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Write header + payload chunks into one blob. */
export function encodeState(header: StateHeader, chunks: Float32Array[]): Uint8Array {
  if (!littleEndian) throw new FisheroptError('BAD_STATE', 'saving state needs a little-endian platform');
  const json = new TextEncoder().encode(JSON.stringify(header));
  const payloadStart = Math.ceil((16 + json.length) / 4) * 4;
  const payloadBytes = chunks.reduce((a, c) => a + c.byteLength, 0);
  const out = new Uint8Array(payloadStart + payloadBytes + 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) out[i] = MAGIC.charCodeAt(i);
  dv.setUint32(8, FORMAT_VERSION, true);
  dv.setUint32(12, json.length, true);
  out.set(json, 16);
  let off = payloadStart;
  for (const c of chunks) {
    out.set(new Uint8Array(c.buffer, c.byteOffset, c.byteLength), off);
    off += c.byteLength;
  }
  dv.setUint32(off, crc32(out.subarray(0, off)), true);
  return out;
}

export interface DecodedState {
  header: StateHeader;
  /** The f32 payload, copied out of the blob (4-byte aligned). */
  payload: Float32Array;
}

/** Parse and verify a blob (magic, version, length, checksum); throws BAD_STATE on any mismatch. */
export function decodeState(blob: Uint8Array): DecodedState {
  const bad = (msg: string) => new FisheroptError('BAD_STATE', `cannot load optimizer state: ${msg}`);
  if (!(blob instanceof Uint8Array)) throw bad('expected a Uint8Array');
  if (blob.length < 20) throw bad(`the blob is ${blob.length} bytes, too short to hold a header (truncated?)`);
  for (let i = 0; i < 8; i++) {
    if (blob[i] !== MAGIC.charCodeAt(i)) throw bad('not a fisheropt state blob (bad magic bytes)');
  }
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const version = dv.getUint32(8, true);
  if (version !== FORMAT_VERSION) throw bad(`format version ${version} is not supported (this build reads version ${FORMAT_VERSION})`);
  const headerLen = dv.getUint32(12, true);
  if (16 + headerLen + 4 > blob.length) throw bad(`the header claims ${headerLen} bytes but the blob has ${blob.length} (truncated?)`);
  const stored = dv.getUint32(blob.length - 4, true);
  const actual = crc32(blob.subarray(0, blob.length - 4));
  if (stored !== actual) throw bad(`checksum mismatch (stored ${stored.toString(16)}, computed ${actual.toString(16)}): the blob is corrupted or truncated`);
  let header: StateHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(blob.subarray(16, 16 + headerLen)));
  } catch (e) {
    throw bad(`the header is not valid JSON: ${(e as Error).message}`);
  }
  if (header.format !== 'fisheropt-state' || !Array.isArray(header.params) || !Array.isArray(header.groups)) {
    throw bad('the header is not a fisheropt state header');
  }
  const payloadStart = Math.ceil((16 + headerLen) / 4) * 4;
  const payloadBytes = blob.length - 4 - payloadStart;
  const expected = header.params.reduce(
    (a, p) => a + (header.includesParams ? p.shape.reduce((x, y) => x * y, 1) : 0) + p.slots.reduce((x, s) => x + s.length, 0),
    0,
  ) * 4;
  if (payloadBytes !== expected) throw bad(`the payload has ${payloadBytes} bytes but the header describes ${expected}`);
  const payload = new Float32Array(payloadBytes / 4);
  new Uint8Array(payload.buffer).set(blob.subarray(payloadStart, payloadStart + payloadBytes));
  return { header, payload };
}
