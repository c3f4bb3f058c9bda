// `fusedet serve`: the demo page and a detection endpoint on localhost.
//
//   GET  /                       the page (web/: runs the detector in the browser on WebGPU)
//   GET  /model/program.json     the served config compiled for WebGPU (api compileProgramFile)
//   GET  /model/weights.safetensors
//   GET  /scenes/index.json, /scenes/N.png   built-in generated scenes at the model's test size
//   POST /detect                 image bytes in (PNG, JPEG), JSON detections out
//   GET  /health
//
// One detector is loaded; requests queue on it (one detect at a time: a
// compiled program's buffers are its own), bodies are bounded (413), an image
// that does not decode is a 400 with the reason, and an error in one request
// never stops the server.
import { parseArgs } from 'node:util';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from '../main.js';
import { UserError } from '../errors.js';
import { Detector, ImageInputError, compileProgramFile, programFileText, type Detections, type RuntimeChoice } from '../../api/index.js';
import { generateScenes } from '../../data/scenes.js';

const usage = `usage: fusedet serve --weights W [--port P] [--config C] [options]

Serves the demo page (detection in the browser on WebGPU, with built-in
scenes) and POST /detect (an image's bytes in, JSON detections in
original-image pixels out) on http://127.0.0.1:P/, running one detector.

  curl --data-binary @street.jpg http://127.0.0.1:8080/detect

options:
  --weights FILE    trained weights (.safetensors) (required)
  --config C        config name or path (default: the one the weights record)
  --port P          port (default 8080; 0 picks a free one)
  --host H          address to listen on (default 127.0.0.1)
  --runtime R       cpu, webgpu, cuda, auto or reference (default: auto)
  --max-body BYTES  largest accepted image (default 16 MiB; larger: 413)
`;

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.map': 'application/json', '.json': 'application/json', '.png': 'image/png', '.css': 'text/css' };
/** The built page: dist/web-bundle beside this file's dist/cli/commands/ (web/build.mjs makes it; the package ships it). */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL('../../web-bundle/', import.meta.url));

export interface ServeOptions {
  weights: string;
  config?: string;
  runtime?: RuntimeChoice;
  port?: number;
  host?: string;
  maxBodyBytes?: number;
  /** The built page's folder (default DEFAULT_WEB_DIR). */
  webDir?: string;
  /** Built-in scenes to generate (default 4). */
  scenes?: number;
}

export interface RunningServer { url: string; server: Server; detector: Detector; close(): Promise<void> }

class HttpError extends Error { constructor(readonly status: number, message: string) { super(message); } }

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const data = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(data);
}

/** The body, refused with 413 as soon as it passes `max` bytes (declared or received). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((ok, fail) => {
    const declared = Number(req.headers['content-length']);
    if (declared > max) { fail(new HttpError(413, `the body is ${declared} bytes; this server takes images up to ${max} bytes (--max-body)`)); return; }
    const parts: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) { fail(new HttpError(413, `the body passed ${max} bytes; this server takes images up to ${max} bytes (--max-body)`)); req.pause(); return; }
      parts.push(c);
    });
    req.on('end', () => ok(Buffer.concat(parts)));
    req.on('error', fail);
  });
}

/** JSON for one image's detections, as `fusedet detect` writes them. */
export function detectionsJson(d: Detections, names?: readonly string[]): unknown {
  return {
    width: d.width, height: d.height, count: d.count,
    detections: Array.from({ length: d.count }, (_, i) => ({
      box: Array.from(d.boxes.subarray(4 * i, 4 * i + 4), (v) => Math.round(v * 1000) / 1000),
      score: Math.round(d.scores[i]! * 1e6) / 1e6, label: d.labels[i]!, ...(names?.[d.labels[i]!] ? { name: names[d.labels[i]!] } : {}),
    })),
    timings: d.timings,
  };
}

export async function startServer(o: ServeOptions): Promise<RunningServer> {
  const webDir = resolve(o.webDir ?? DEFAULT_WEB_DIR);
  if (!existsSync(join(webDir, 'index.html'))) throw new UserError(`fusedet serve: the page is not built (${webDir} has no index.html); run node web/build.mjs`);
  const max = o.maxBodyBytes ?? 16 << 20;
  const detector = await Detector.create({ weights: o.weights, config: o.config, runtime: o.runtime ?? 'auto' });
  const names = detector.classNames;
  // Scenes at the model's test size, so the page's and Node's inputs are the same pixels.
  const sceneDir = mkdtempSync(join(tmpdir(), 'fusedet-serve-scenes-'));
  const side = Math.max(32, detector.preprocess.testShortSide);
  await generateScenes({ out: join(sceneDir, 'scenes'), images: o.scenes ?? 4, size: side, crowd: 0.5, seed: 1, force: true });
  const sceneFiles = readdirSync(join(sceneDir, 'scenes', 'images')).filter((f) => f.endsWith('.png')).sort();
  let program: Promise<string> | undefined;
  // Requests run one after another on the one detector.
  let queue: Promise<unknown> = Promise.resolve();
  let waiting = 0;
  const enqueue = <T>(job: () => Promise<T>): Promise<T> => {
    waiting++;
    const run = queue.then(job, job);
    queue = run.catch(() => undefined).finally(() => { waiting--; });
    return run;
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/detect') {
      if (req.method !== 'POST') throw new HttpError(405, 'POST an image to /detect');
      const body = await readBody(req, max);
      if (body.length === 0) throw new HttpError(400, 'the body is empty: POST the image file\'s bytes');
      try {
        const d = await enqueue(() => detector.detect(body));
        send(res, 200, detectionsJson(d, names));
      } catch (e) {
        if (e instanceof ImageInputError) throw new HttpError(400, e.message.replace(/^image bytes: /, ''));
        throw e;
      }
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method} ${path}: only GET here`);
    if (path === '/health') { send(res, 200, { ok: true, runtime: detector.runtime, queued: waiting }); return; }
    if (path === '/model/program.json') {
      program ??= compileProgramFile({ weights: o.weights, config: o.config }).then((p) => programFileText(p));
      send(res, 200, await program);
      return;
    }
    if (path === '/model/weights.safetensors') { send(res, 200, readFileSync(o.weights), 'application/octet-stream'); return; }
    if (path === '/scenes/index.json') { send(res, 200, sceneFiles.map((f, i) => `scenes/${i}.png`)); return; }
    const scene = /^\/scenes\/(\d+)\.png$/.exec(path);
    if (scene) {
      const f = sceneFiles[Number(scene[1])];
      if (!f) throw new HttpError(404, `no scene ${scene[1]} (there are ${sceneFiles.length})`);
      send(res, 200, readFileSync(join(sceneDir, 'scenes', 'images', f)), 'image/png');
      return;
    }
    const file = normalize(join(webDir, path.endsWith('/') ? path + 'index.html' : path));
    if (!file.startsWith(webDir + sep) || !existsSync(file) || !statSync(file).isFile()) throw new HttpError(404, `${path}: not found`);
    send(res, 200, readFileSync(file), TYPES[extname(file)] ?? 'application/octet-stream');
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      if (status === 500) process.stderr.write(`fusedet serve: ${req.method} ${req.url}: ${(e as Error)?.stack ?? String(e)}\n`);
      if (!res.headersSent) {
        // A refused upload: answer, then close, so the client stops sending.
        if (status === 413) res.setHeader('connection', 'close');
        send(res, status, { error: e instanceof Error ? e.message : String(e) });
      } else res.end();
      if (status === 413) req.resume();
    });
  });
  await new Promise<void>((ok, fail) => { server.once('error', fail); server.listen(o.port ?? 8080, o.host ?? '127.0.0.1', () => ok()); });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  return {
    url: `http://${o.host ?? '127.0.0.1'}:${port}/`, server, detector,
    close: () => new Promise<void>((ok) => {
      server.close(() => ok());
      server.closeAllConnections();
      detector.dispose();
      rmSync(sceneDir, { recursive: true, force: true });
    }),
  };
}

const serve: Command = {
  name: 'serve',
  summary: 'serve the demo page and POST /detect on localhost with one loaded detector',
  usage,
  async run(argv) {
    const { values } = parseArgs({ args: argv, options: {
      weights: { type: 'string' }, config: { type: 'string' }, port: { type: 'string', default: '8080' }, host: { type: 'string', default: '127.0.0.1' },
      runtime: { type: 'string', default: 'auto' }, 'max-body': { type: 'string', default: String(16 << 20) },
    } });
    if (!values.weights) throw new UserError(`fusedet serve: --weights is required\n${usage}`, 2);
    const port = Number(values.port), maxBody = Number(values['max-body']);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`fusedet serve: --port must be 0..65535, not '${values.port}'`, 2);
    if (!Number.isInteger(maxBody) || maxBody < 1) throw new UserError(`fusedet serve: --max-body must be a positive number of bytes, not '${values['max-body']}'`, 2);
    if (!['auto', 'cpu', 'webgpu', 'cuda', 'reference'].includes(values.runtime!)) throw new UserError(`fusedet serve: --runtime must be auto, cpu, webgpu, cuda or reference, not '${values.runtime}'`, 2);
    let s: RunningServer;
    try {
      s = await startServer({ weights: values.weights, config: values.config, runtime: values.runtime as RuntimeChoice, port, host: values.host, maxBodyBytes: maxBody });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new UserError(`fusedet serve: port ${port} is in use; choose another --port (0 picks a free one)`);
      throw e;
    }
    process.stdout.write(`fusedet serve: ${s.url} (page), POST ${s.url}detect; Ctrl-C stops\n`);
    await new Promise<void>((ok) => {
      const stop = (): void => { void s.close().then(ok); };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
};
export default serve;
