import { Lowering } from './emit.js';
export const GATHER_LOWERINGS: Record<string, Lowering> = {};
