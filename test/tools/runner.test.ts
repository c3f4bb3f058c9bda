import { test } from 'uvu';
import * as assert from 'uvu/assert';

test('arithmetic sanity of the runner itself', () => {
  assert.is(1 + 1, 2);
});
test.run();
