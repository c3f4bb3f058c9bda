// The COCO reader streams: reading a ~50 MB annotation file (the bulk of it
// segmentation polygons, as in real COCO files) must not cost memory in
// proportion to the file. Measured in a child process, so this test's own
// allocations do not count: peak RSS (VmHWM) growth over the read, and the
// heap still held by the dataset afterwards.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testUnless } from '../helpers/skip.js';

// Peak RSS is read from /proc (Linux): where it cannot be, the test is
// skipped at registration, counted, instead of passing on a NaN.
const hasHwm = existsSync('/proc/self/status') && /VmHWM:\s+\d+ kB/.test(readFileSync('/proc/self/status', 'utf8'));

const dir = mkdtempSync(join(tmpdir(), 'fusedet-coco-mem-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function writeBigFile(path: string, annotations: number): void {
  const fd = openSync(path, 'w');
  const images = Math.ceil(annotations / 8);
  let chunk = '{"info": {"description": "generated"}, "images": [';
  for (let i = 1; i <= images; i++) chunk += `${i > 1 ? ',' : ''}\n{"id": ${i}, "width": 640, "height": 480, "file_name": "${i}.jpg"}`;
  chunk += '],\n"categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],\n"annotations": [';
  let seed = 1;
  const rand = (): number => { seed = (seed * 48271) % 2147483647; return seed / 2147483647; };
  for (let a = 1; a <= annotations; a++) {
    const x = Math.round(rand() * 50000) / 100, y = Math.round(rand() * 40000) / 100;
    const poly: string[] = [];
    for (let k = 0; k < 40; k++) poly.push((x + rand() * 100).toFixed(2), (y + rand() * 80).toFixed(2));
    chunk += `${a > 1 ? ',' : ''}\n{"id": ${a}, "image_id": ${1 + (a % images)}, "category_id": ${1 + (a % 2)}, "iscrowd": 0, "area": 1234.5, "bbox": [${x}, ${y}, 100, 80], "segmentation": [[${poly.join(', ')}]]}`;
    if (chunk.length > 1 << 20) { writeSync(fd, chunk); chunk = ''; }
  }
  writeSync(fd, chunk + ']}\n');
  closeSync(fd);
}

testUnless(hasHwm ? undefined : '/proc/self/status has no VmHWM line (not Linux)')('reading a ~50 MB annotation file grows peak memory far less than the file size', () => {
  const path = join(dir, 'big.json');
  writeBigFile(path, 80_000);
  const size = statSync(path).size;
  assert.ok(size > 45e6, `file is ${size} bytes`);
  const coco = new URL('../../data/coco.js', import.meta.url).href;
  const child = `
    import { readFileSync } from 'node:fs';
    const hwm = () => {
      const m = /VmHWM:\\s+(\\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
      if (!m) throw new Error('no VmHWM in /proc/self/status');
      return Number(m[1]) * 1024;
    };
    const { readCocoFile } = await import(${JSON.stringify(coco)});
    globalThis.gc();
    const rss0 = process.memoryUsage().rss, heap0 = process.memoryUsage().heapUsed;
    const ds = await readCocoFile(${JSON.stringify(path)});
    const peak = hwm() - rss0;
    globalThis.gc();
    const held = process.memoryUsage().heapUsed - heap0;
    process.stdout.write(JSON.stringify({ count: ds.annotations.count, images: ds.images.length, peak, held }));
  `;
  const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', child], { encoding: 'utf8', cwd: fileURLToPath(new URL('.', import.meta.url)) });
  assert.is(r.status, 0, r.stderr);
  const m = JSON.parse(r.stdout) as { count: number; images: number; peak: number; held: number };
  assert.is(m.count, 80_000);
  assert.is(m.images, 10_000);
  const mb = (v: number): string => `${(v / 2 ** 20).toFixed(1)} MiB`;
  process.stdout.write(`NOTICE coco-memory: file ${mb(size)}, peak RSS growth ${mb(m.peak)}, heap held ${mb(m.held)}\n`);
  // Reading the whole document (JSON.parse) needs several times the file;
  // the stream needs its buffers and the young generation (~40 MiB here).
  assert.ok(Number.isFinite(m.peak) && m.peak < 1.5 * size, `peak growth ${mb(m.peak)} vs file ${mb(size)}`);
  assert.ok(m.held < size / 5, `dataset holds ${mb(m.held)}`);
});

test.run();
