// `fusedet eval --gt GT --dets DETS [--protocol coco|crowdhuman] [--json] [--skip-bad]`
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { extname } from 'node:path';
import type { Command } from '../main.js';
import { UserError } from '../errors.js';
import { evaluateCocoFiles, formatCocoTable } from '../../eval/coco.js';

const usage = `usage: fusedet eval --gt GT --dets DETS [--protocol coco|crowdhuman] [--json] [--skip-bad]

Scores a detection file against ground truth.

  coco        GT is a COCO instances .json, DETS a COCO results .json
              ([{"image_id", "category_id", "bbox": [x, y, w, h], "score"}]);
              prints the 12 numbers of pycocotools' COCOeval.summarize()
              (bbox, default parameters), equal to pycocotools within 1e-4.
  crowdhuman  GT is a CrowdHuman .odgt; prints AP50, mMR and recall.

options:
  --gt FILE         ground truth (required)
  --dets FILE       detections (required)
  --protocol NAME   coco or crowdhuman (default: from GT's extension,
                    .odgt -> crowdhuman, otherwise coco)
  --json            print the metrics as JSON
  --skip-bad        skip bad records (missing fields, negative sizes, unknown
                    images or categories) and report how many on stderr
`;

const evalCommand: Command = {
  name: 'eval',
  summary: 'score detections against ground truth (COCO metrics as pycocotools, or CrowdHuman)',
  usage,
  async run(argv) {
    const { values } = parseArgs({
      args: argv,
      options: {
        gt: { type: 'string' }, dets: { type: 'string' }, protocol: { type: 'string' },
        json: { type: 'boolean', default: false }, 'skip-bad': { type: 'boolean', default: false },
      },
    });
    if (!values.gt) throw new UserError(`fusedet eval: --gt FILE is required\n${usage}`, 2);
    if (!values.dets) throw new UserError(`fusedet eval: --dets FILE is required\n${usage}`, 2);
    for (const [flag, path] of [['--gt', values.gt], ['--dets', values.dets]] as const) {
      if (!existsSync(path)) throw new UserError(`fusedet eval: ${flag} ${path}: no such file`, 1);
    }
    const protocol = values.protocol ?? (extname(values.gt).toLowerCase() === '.odgt' ? 'crowdhuman' : 'coco');
    if (protocol !== 'coco' && protocol !== 'crowdhuman') throw new UserError(`fusedet eval: --protocol must be coco or crowdhuman, not '${protocol}'`, 2);
    const skipBad = values['skip-bad'];

    if (protocol === 'crowdhuman') {
      // Loaded only here: the COCO path does not pay for the CrowdHuman modules.
      const ch = await import('../../eval/crowdhuman.js');
      const m = await ch.evaluateCrowdHumanFiles(values.gt, values.dets, { skipBad });
      if (m.skipped > 0) process.stderr.write(`fusedet eval: skipped ${m.skipped} bad record(s)\n`);
      process.stdout.write(values.json ? JSON.stringify(m, null, 2) + '\n' : ch.formatCrowdHumanTable(m));
      return 0;
    }

    const report = await evaluateCocoFiles(values.gt, values.dets, { skipBad });
    if (report.skippedGt + report.skippedDets > 0) {
      process.stderr.write(`fusedet eval: skipped ${report.skippedGt} bad record(s) in ${values.gt} and ${report.skippedDets} in ${values.dets}\n`);
      for (const ex of report.examples) process.stderr.write(`  e.g. ${ex}\n`);
    }
    if (values.json) {
      const { stats: _stats, ...rest } = report.metrics;
      process.stdout.write(JSON.stringify({ protocol: 'coco', ...rest, skipped: { gt: report.skippedGt, dets: report.skippedDets } }, null, 2) + '\n');
    } else {
      process.stdout.write(formatCocoTable(report.metrics));
    }
    return 0;
  },
};

export default evalCommand;
