// What --resume compares: the settings a checkpoint recorded (the run's config)
// against the ones given now. A change of lr, momentum, batch, size... would
// silently make a different run than the one the checkpoint continues, so it
// is refused unless named in --allow-changed.
//
// Settings are compared leaf by leaf (arrays and shapes as one value). What
// may differ on every resume is not a setting: the step count to train to and
// the runtime it runs on.

/** Leaves that are expected to change between a run and its resume. */
const FREE = new Set(['steps', 'schedule.steps', 'runtime']);

export interface SettingChange { name: string; path: string; old: unknown; now: unknown }

function leaves(v: unknown, prefix: string, out: Map<string, unknown>): Map<string, unknown> {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) leaves(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (prefix) out.set(prefix, v);
  return out;
}

/** A flag-like name: 'lr' for schedule.lr, 'weight-decay' matches sgd.weightDecay. */
const norm = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');

function allowed(path: string, allow: readonly string[]): boolean {
  const parts = path.split('.').map(norm);
  return allow.some((a) => {
    const n = norm(a);
    return norm(path) === n || parts.includes(n) || norm(path).startsWith(n + '.');
  });
}

/**
 * The settings of OLD (a checkpoint's recorded config) that NOW changes, less
 * the free ones and those ALLOW names. A checkpoint without a recorded config
 * (null) has nothing to compare.
 */
export function changedSettings(old: unknown, now: unknown, allow: readonly string[]): SettingChange[] {
  if (old === null || old === undefined || typeof old !== 'object') return [];
  const a = leaves(old, '', new Map()), b = leaves(now, '', new Map());
  const out: SettingChange[] = [];
  for (const path of new Set([...a.keys(), ...b.keys()])) {
    if (FREE.has(path) || allowed(path, allow)) continue;
    const x = a.get(path), y = b.get(path);
    if (JSON.stringify(x) === JSON.stringify(y)) continue;
    const name = path.split('.').at(-1)!;
    out.push({ name: path.startsWith('inputs.') || path.startsWith('args.') ? path.split('.')[0] : name, path, old: x, now: y });
  }
  return out;
}

const show = (v: unknown): string => (v === undefined ? '(not set)' : JSON.stringify(v));

export function formatChanges(changes: readonly SettingChange[]): string {
  return changes.map((c) => `  ${c.path}: ${show(c.old)} in the checkpoint, ${show(c.now)} now`).join('\n');
}
