import { Lowering } from './emit.js';
export const REDUCE_LOWERINGS: Record<string, Lowering> = {};
