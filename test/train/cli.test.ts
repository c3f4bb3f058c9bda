// `fusedet train` flag errors: exit code 2 (usage) or 1, a message, no stack.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';

function train(...args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, ['dist/cli/main.js', 'train', ...args], { encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

const base = ['models/defcn-train.fd', '--entry', 'DeFCNTrain', '--fixed-batch', '--checkpoint-dir', '/tmp/fusedet-train-cli-unused'];

test('flag errors name the flag and exit 2', () => {
  const cases: [string[], RegExp][] = [
    [['models/defcn-train.fd', '--fixed-batch', '--checkpoint-dir', 'x'], /--entry NAME is required/],
    [['--entry', 'DeFCNTrain'], /no \.fd file given/],
    [[...base.slice(0, 3), '--checkpoint-dir', 'x'], /give --fixed-batch/],
    [[...base, '--data', 'scenes/'], /--data trains a detector config/],
    [[...base, '--size', '50'], /--size '50' is not valid/],
    [[...base, '--steps=-3'], /--steps '-3' is not valid/], [[...base, '--steps', '-3'], /argument is ambiguous/],
    [[...base, '--runtime', 'tpu'], /--runtime must be cpu, webgpu, cuda, auto or reference/],
    [[...base, '--resume', '--force'], /contradict/],
    [base.filter((a) => a !== '--checkpoint-dir' && a !== '/tmp/fusedet-train-cli-unused'), /--checkpoint-dir DIR is required/],
  ];
  for (const [args, re] of cases) {
    const r = train(...args);
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    // A stack frame, not usage prose that starts a line with 'at the end ...'.
    assert.not.match(r.stderr, /\n\s+at (\S+ \()?(file|node):/);
  }
});

test('--help shows the usage', () => {
  const r = spawnSync(process.execPath, ['dist/cli/main.js', 'train', '--help'], { encoding: 'utf8' });
  assert.match(r.stdout + r.stderr, /usage: fusedet train MODEL\.fd/);
});

test.run();
