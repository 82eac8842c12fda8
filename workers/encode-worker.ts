/**
 * Piscina entry: each worker thread owns one encoder (its caches stay warm across batches) and
 * hands the encoded bytes back by transfer, not by copy.
 */
import { move, transferableSymbol, valueSymbol, workerData } from 'piscina';
import type { EncodeJob, EncodeResult } from './encode-batch.js';
import { createSchemaBatchEncoder, type EncoderSetup } from './schema.js';

const setup = (workerData as EncoderSetup | undefined) ?? { schema: { schema: 'typed' } };
const batchEncoder = createSchemaBatchEncoder(setup.schema, setup.seenStates);

export default function encode(job: EncodeJob): EncodeResult {
  const result = batchEncoder.encode(job);
  return move({ [transferableSymbol]: result.lp.buffer, [valueSymbol]: result }) as unknown as EncodeResult;
}
