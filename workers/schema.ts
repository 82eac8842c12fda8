/** Picks the state encoder for SCHEMA: typed (ours, docs/schema.md) or ha (HA's integration). */
import { createBatchEncoder } from './encode/frames.js';
import { createHaEncoder } from './ha-schema.js';
import { deepLatin1Form } from './latin1.js';
import { createTypedEncoder, type SchemaOptions, type StateEncoder } from './typed-schema.js';

/** `latin1`: the encoder for the Latin-1 fast path, its configuration strings converted. */
export function createStateEncoder(options: SchemaOptions, latin1 = false): StateEncoder {
  const o = latin1 ? deepLatin1Form(options) : options;
  return o.schema === 'ha' ? createHaEncoder(o.ha, o.filters, o.flavor) : createTypedEncoder({ ...o, latin1 });
}

/** What every encoder thread is made from (Piscina's workerData). */
export interface EncoderSetup {
  readonly schema: SchemaOptions;
  /** Restart de-duplication on: each result carries records for the main thread's judge. */
  readonly dedup?: boolean;
}

/** A batch encoder with both forms of the schema: what each worker (and POOL_SIZE=0) uses. */
export function createSchemaBatchEncoder(options: SchemaOptions, setup: { readonly dedup?: boolean } = {}) {
  return createBatchEncoder(createStateEncoder(options), createStateEncoder(options, true), {
    dedup: setup.dedup === true,
    flavor: options.flavor,
    keepFloatSpelling: options.schema !== 'ha' ? undefined : options.ha.tagsAttributes.length > 0 ? 'everywhere' : 'nested',
  });
}
