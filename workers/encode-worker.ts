/**
 * Piscina entry: each worker thread owns one encoder (its caches stay warm across batches) and
 * hands the encoded bytes and the de-duplication records back by transfer, not by copy.
 */
import { move, transferableSymbol, valueSymbol, workerData } from 'piscina';
import type { EncodeJob, EncodeResult } from './encode/result.js';
import { createSchemaBatchEncoder, type EncoderSetup } from './schema.js';

const setup = (workerData as EncoderSetup | undefined) ?? { schema: { schema: 'typed' } };
const batchEncoder = createSchemaBatchEncoder(setup.schema, { dedup: setup.dedup === true });

export default function encode(job: EncodeJob): EncodeResult {
  const result = batchEncoder.encode(job);
  if (result.dedup === undefined) {
    return move({ [transferableSymbol]: result.lp.buffer, [valueSymbol]: result }) as unknown as EncodeResult;
  }
  // Several buffers: Piscina's move() takes one, so the result travels with a transfer list.
  return move({
    [transferableSymbol]: [result.lp.buffer, result.dedup.ints.buffer, result.dedup.timesUs.buffer],
    [valueSymbol]: result,
  }) as unknown as EncodeResult;
}
