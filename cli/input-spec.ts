// Parsing of `--input name=f32[1,3,64,64]` and `--arg K=80` options, shared
// by the commands that lower a program (compile, run, train).
import { ConcreteType, DType, DTYPES } from '../compiler/types.js';
import { UserError } from './errors.js';

const INPUT_FORM = 'name=dtype[d0,d1,...], e.g. image=f32[1,3,512,512]';

export function parseInputSpec(spec: string): { name: string; type: ConcreteType } {
  const m = /^([A-Za-z_][A-Za-z0-9_]*)=([a-z0-9]+)\[([^\]]*)\]$/.exec(spec.replace(/\s+/g, ''));
  if (!m) throw new UserError(`bad --input '${spec}': expected ${INPUT_FORM}`, 2);
  const [, name, dtype, dims] = m;
  if (!(DTYPES as readonly string[]).includes(dtype)) throw new UserError(`bad --input '${spec}': unknown dtype '${dtype}' (one of ${DTYPES.join(', ')})`, 2);
  const shape = dims === '' ? [] : dims.split(',').map((d) => (/^\d+$/.test(d) ? Number(d) : NaN));
  const bad = shape.findIndex((d) => !Number.isSafeInteger(d) || d <= 0);
  if (bad >= 0) throw new UserError(`bad --input '${spec}': dimension ${bad} ('${dims.split(',')[bad]}') must be a positive integer`, 2);
  return { name, type: { dtype: dtype as DType, shape } };
}

export function parseInputSpecs(specs: readonly string[]): Record<string, ConcreteType> {
  const out: Record<string, ConcreteType> = {};
  for (const s of specs) {
    const { name, type } = parseInputSpec(s);
    if (name in out) throw new UserError(`--input '${name}' given twice`, 2);
    out[name] = type;
  }
  return out;
}

/** `--arg K=80 --arg centerness=false`: constructor arguments of the entry module. */
export function parseArgSpecs(specs: readonly string[]): Record<string, number | boolean> {
  const out: Record<string, number | boolean> = {};
  for (const s of specs) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.+)$/.exec(s.trim());
    if (!m) throw new UserError(`bad --arg '${s}': expected name=value, e.g. K=80 or centerness=false`, 2);
    const [, name, raw] = m;
    if (raw === 'true' || raw === 'false') out[name] = raw === 'true';
    else if (Number.isFinite(Number(raw))) out[name] = Number(raw);
    else throw new UserError(`bad --arg '${s}': value must be a number, true or false`, 2);
  }
  return out;
}
