// FUSEDET_DEBUG levels (STYLE.md): 1 runtime chosen and compile counts,
// 2 per-launch times, 4 where the rendered C source is.
export function debugLevel(): number {
  const n = Number(process.env.FUSEDET_DEBUG ?? 0);
  return Number.isFinite(n) ? n : 0;
}

export function debugLog(level: number, line: string): void {
  if (debugLevel() >= level) process.stderr.write(`[fusedet] ${line}\n`);
}
