/**
 * The pool's unit of work, split by message kind in workers/encode/ (frames, live-event,
 * snapshot, ws-history, rest-history; types in result.ts). This module keeps the old import path.
 */
export * from './encode/result.js';
export { createBatchEncoder, type BatchEncoder, type BatchEncoderOptions } from './encode/frames.js';
