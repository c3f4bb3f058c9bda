// The user-facing errors of the models, data, eval and compiler modules share io/errors.ts's
// FusedetError: `instanceof FusedetError` is the CLI's whole test, so an error
// that only carried its own exitCode would print (and exit) differently.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FusedetError, formatUserError } from '../../io/errors.js';
import { DetectorError } from '../../models/detector.js';
import { ConfigError } from '../../models/config.js';
import { DatasetError } from '../../models/dataset-batches.js';
import { SceneError } from '../../data/scenes.js';
import { CrowdHumanInputError } from '../../eval/crowdhuman.js';
import { TrainStepError } from '../../compiler/train-step.js';
import { InterpretError } from '../../compiler/interpret.js';
import { AutodiffError } from '../../compiler/autodiff.js';
import { TargetError } from '../../compiler/target.js';
import { ScheduleError } from '../../compiler/schedule/emit.js';

// The compiler's user-facing errors too (a loss that is not a scalar, a reference
// run on bad inputs, an op without a gradient, a target the device cannot be, a
// graph the scheduler cannot turn into kernels).
const classes: [new (m: string) => Error & { exitCode: number }, number][] = [
  [DetectorError, 1], [ConfigError, 1], [DatasetError, 1], [SceneError, 1], [CrowdHumanInputError, 1],
  [TrainStepError, 1], [InterpretError, 1], [AutodiffError, 1], [TargetError, 2], [ScheduleError, 1],
];

for (const [C, code] of classes) {
  test(`${C.name} is a FusedetError with exit code ${code}, its own name and the message as given`, () => {
    const e = new C('x.json: something is wrong');
    assert.ok(e instanceof FusedetError);
    assert.ok(e instanceof C);
    assert.is(e.exitCode, code);
    assert.is(e.name, C.name);
    assert.is(e.message, 'x.json: something is wrong');
    assert.is(formatUserError(e), 'x.json: something is wrong\n');
  });
}

test.run();
