// The loss curve as a PNG (@napi-rs/canvas): one line per loss term over the
// steps, linear axes from 0, a legend with each term's last value.
import { writeFileAtomicSync } from '../io/files.js';

export interface LogEntry { step: number; lr: number; scalars: Record<string, number> }

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

export async function writeLossPlot(path: string, log: readonly LogEntry[], terms: readonly string[]): Promise<void> {
  const { createCanvas } = await import('@napi-rs/canvas');
  const W = 800, H = 480, L = 60, R = 20, T = 30, B = 40;
  const c = createCanvas(W, H);
  const ctx = c.getContext('2d');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, W, H);
  const finite = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v);
  let maxY = 0;
  for (const e of log) for (const t of terms) if (finite(e.scalars[t])) maxY = Math.max(maxY, e.scalars[t]);
  if (maxY <= 0) maxY = 1;
  const maxX = Math.max(1, ...log.map((e) => e.step));
  const x = (s: number): number => L + ((W - L - R) * s) / maxX;
  const y = (v: number): number => H - B - ((H - T - B) * v) / maxY;
  ctx.strokeStyle = '#000';
  ctx.beginPath(); ctx.moveTo(L, T); ctx.lineTo(L, H - B); ctx.lineTo(W - R, H - B); ctx.stroke();
  ctx.fillStyle = '#000';
  ctx.font = '12px sans-serif';
  for (let i = 0; i <= 4; i++) {
    const v = (maxY * i) / 4;
    ctx.fillText(v.toPrecision(3), 5, y(v) + 4);
    ctx.fillText(String(Math.round((maxX * i) / 4)), x((maxX * i) / 4) - 10, H - B + 16);
  }
  ctx.fillText('step', W / 2, H - 8);
  terms.forEach((t, k) => {
    ctx.strokeStyle = COLORS[k % COLORS.length];
    ctx.beginPath();
    let started = false;
    for (const e of log) {
      const v = e.scalars[t];
      if (!finite(v)) { started = false; continue; }
      if (started) ctx.lineTo(x(e.step), y(v)); else { ctx.moveTo(x(e.step), y(v)); started = true; }
    }
    ctx.stroke();
    ctx.fillStyle = COLORS[k % COLORS.length];
    const last = log.at(-1)?.scalars[t];
    ctx.fillText(`${t}${last !== undefined ? ` ${last.toPrecision(4)}` : ''}`, W - R - 200, T + 14 * (k + 1));
  });
  writeFileAtomicSync(path, await c.encode('png'), { what: 'loss curve' });
}
