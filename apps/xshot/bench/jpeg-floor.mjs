// The least a Node process does for a JPEG shot, as a reference row in bench/run.mjs: start, load koffi and
// libturbojpeg, read a 1080p BGRX frame from a file (standing in for the server's copy into shared memory),
// encode it at the quality given and write the file. No X connection, no xshot code: where this row is
// slower than scrot's whole shot, no Node process can match scrot.
// Usage: node bench/jpeg-floor.mjs FRAME.bgrx WIDTH HEIGHT QUALITY OUT.jpg
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const koffi = require('koffi');
const [frameFile, width, height, quality, out] = process.argv.slice(2);
const lib = koffi.load('libturbojpeg.so.0');
const init = lib.func('void *tjInitCompress(void)');
const compress = lib.func(
  'int tjCompress2(void *handle, const uint8_t *src, int width, int pitch, int height, int pixelFormat, ' +
    'void *jpegBuf, void *jpegSize, int jpegSubsamp, int jpegQual, int flags)',
);
const frame = readFileSync(frameFile);
const result = new BigUint64Array(2);
const TJPF_BGRX = 3;
const TJSAMP_420 = 2;
const status = compress(
  init(),
  frame,
  Number(width),
  Number(width) * 4,
  Number(height),
  TJPF_BGRX,
  result.subarray(0, 1),
  result.subarray(1, 2),
  TJSAMP_420,
  Number(quality),
  0,
);
if (status !== 0) throw new Error(`tjCompress2 failed (${status})`);
writeFileSync(out, new Uint8Array(koffi.view(result[0], Number(result[1]))));
