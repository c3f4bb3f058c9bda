// The PyTorch CPU baseline, made fair. Debian's python3-torch does its GEMMs
// through libblas.so.3, and with nothing else installed that is the netlib
// reference BLAS (a few GFLOP/s here): a baseline that slow makes any ratio
// meaningless. So the suites that compare with PyTorch install OpenBLAS
// (libopenblas0-pthread takes over the libblas.so.3 alternative) and record
// which BLAS the baseline used.
import { execFileSync, execSync } from 'node:child_process';

export const TORCH_PYTHON = '/usr/bin/python3'; // Debian's, where python3-torch installs (a pyenv python3 may shadow it)

function blasInUse(): string {
  try {
    const q = execFileSync('update-alternatives', ['--query', 'libblas.so.3-x86_64-linux-gnu'], { encoding: 'utf8' });
    return /^Value:\s*(.+)$/m.exec(q)?.[1]?.trim() ?? 'unknown';
  } catch { return 'unknown'; }
}

/** Installs what the baseline needs (root, Debian) and returns notes saying what it used. */
export function ensureTorchBaseline(): string[] {
  const notes: string[] = [];
  const missing: string[] = [];
  try { execFileSync(TORCH_PYTHON, ['-c', 'import torch, torchvision'], { stdio: 'ignore' }); } catch { missing.push('python3-torch', 'python3-torchvision'); }
  if (!/openblas/.test(blasInUse())) missing.push('libopenblas0-pthread');
  if (missing.length) {
    process.stdout.write(`bench: installing ${missing.join(' ')} for the PyTorch baseline\n`);
    execSync(`apt-get install -y -qq ${missing.join(' ')}`, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    notes.push(`installed ${missing.join(' ')} with apt-get for this run`);
  }
  const blas = blasInUse();
  notes.push(`PyTorch baseline BLAS: ${blas}`);
  if (!/openblas/.test(blas)) notes.push('WARNING: PyTorch runs on the reference BLAS here; its times are not a fair baseline');
  return notes;
}
