// Which vector instruction set the CPU runtime shapes its kernels for: the
// widest this machine has (its /proc/cpuinfo flags, read once per process),
// or FUSEDET_CPU_ISA to force a narrower profile (avx2 on an AVX-512 machine
// checks the fallback's kernels; the C is compiled with -march=native either
// way, so any profile is correct on any machine, only slower).
import { readFileSync } from 'node:fs';
import { type CpuIsa, TargetError } from '../compiler/target.js';

const ISAS: readonly CpuIsa[] = ['avx512', 'avx2', 'generic'];

/** The widest profile the flags allow: AVX-512F, else AVX2 with FMA, else plain C. */
export function isaFromFlags(flags: ReadonlySet<string>): CpuIsa {
  if (flags.has('avx512f')) return 'avx512';
  if (flags.has('avx2') && flags.has('fma')) return 'avx2';
  return 'generic';
}

let machine: CpuIsa | undefined;

/** This machine's profile (Linux: /proc/cpuinfo; elsewhere, or unreadable: generic). */
export function machineCpuIsa(): CpuIsa {
  if (machine === undefined) {
    let flags = '';
    try { flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? ''; } catch { /* not Linux: plain C */ }
    machine = isaFromFlags(new Set(flags.trim().split(/\s+/)));
  }
  return machine;
}

/** FUSEDET_CPU_ISA if set (checked), else the machine's profile. */
export function cpuIsaFromEnv(env: Readonly<Record<string, string | undefined>>): CpuIsa {
  const want = env.FUSEDET_CPU_ISA;
  if (want === undefined || want === '') return machineCpuIsa();
  if (!(ISAS as readonly string[]).includes(want)) throw new TargetError(`FUSEDET_CPU_ISA='${want}': use ${ISAS.join(', ')} (default: this machine's, ${machineCpuIsa()})`);
  return want as CpuIsa;
}
