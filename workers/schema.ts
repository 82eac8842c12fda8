/** Picks the state encoder for SCHEMA: typed (ours, docs/schema.md) or ha (HA's integration). */
import { createHaEncoder } from './ha-schema.js';
import { createTypedEncoder, type SchemaOptions, type StateEncoder } from './typed-schema.js';

export function createStateEncoder(options: SchemaOptions): StateEncoder {
  return options.schema === 'ha' ? createHaEncoder(options.ha, options.filters) : createTypedEncoder(options);
}
