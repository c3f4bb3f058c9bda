// The user-facing errors of the models, data and eval modules share io/errors.ts's
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

const classes = [DetectorError, ConfigError, DatasetError, SceneError, CrowdHumanInputError];

for (const C of classes) {
  test(`${C.name} is a FusedetError with exit code 1, its own name and the message as given`, () => {
    const e = new C('x.json: something is wrong');
    assert.ok(e instanceof FusedetError);
    assert.ok(e instanceof C);
    assert.is(e.exitCode, 1);
    assert.is(e.name, C.name);
    assert.is(e.message, 'x.json: something is wrong');
    assert.is(formatUserError(e), 'x.json: something is wrong\n');
  });
}

test.run();
