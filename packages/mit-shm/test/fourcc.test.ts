// The FourCC vocabulary: one mapping from an X pixel format to a code, and the subpath
// @xshm/mit-shm/format that framebus loads without loading any X11 code.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { bytesPerPixel, FOURCCS, fourccOf, isFourCC, type PixelFormat } from '@xshm/mit-shm/format';

const bgrx: PixelFormat = {
  depth: 24,
  bitsPerPixel: 32,
  scanlinePad: 32,
  byteOrder: 'LSBFirst',
  redMask: 0xff0000,
  greenMask: 0xff00,
  blueMask: 0xff,
  channels: 'BGRX',
};

test('fourccOf maps each X layout that has a code, and only those', () => {
  expect(fourccOf(bgrx)).toBe('BGRX');
  expect(fourccOf({ ...bgrx, depth: 32, channels: 'BGRA' })).toBe('BGRA');
  const rgb565 = { ...bgrx, depth: 16, bitsPerPixel: 16, redMask: 0xf800, greenMask: 0x7e0, blueMask: 0x1f };
  expect(fourccOf({ ...rgb565, channels: 'RGB565' })).toBe('RG16');
  const rgbx = { ...bgrx, redMask: 0xff, blueMask: 0xff0000, channels: 'masks' as const };
  expect(fourccOf(rgbx)).toBe('RGBX');
  expect(fourccOf({ ...rgbx, depth: 32 })).toBe('RGBA');
  expect(fourccOf({ ...bgrx, byteOrder: 'MSBFirst', channels: 'XRGB' })).toBeNull();
  expect(fourccOf({ ...bgrx, depth: 30, redMask: 0x3ff00000, channels: 'masks' })).toBeNull();
  expect(fourccOf({ ...rgb565, depth: 15, redMask: 0x7c00, greenMask: 0x3e0, channels: 'masks' })).toBeNull();
});

test('bytesPerPixel and isFourCC', () => {
  expect(FOURCCS.map((code) => [code, bytesPerPixel(code)])).toEqual([
    ['BGRX', 4],
    ['BGRA', 4],
    ['RGBX', 4],
    ['RGBA', 4],
    ['RG16', 2],
  ]);
  expect(isFourCC('BGRX')).toBe(true);
  expect(isFourCC('XRGB')).toBe(false);
  expect(isFourCC('toString')).toBe(false);
});

test('@xshm/mit-shm/format and @xshm/framebus load no x11 module', () => {
  const root = path.join(__dirname, '../../..');
  const loaded = execFileSync(
    process.execPath,
    [
      '-e',
      `require(${JSON.stringify(path.join(root, 'scripts/run-ts.cjs'))}).register();
       require('@xshm/mit-shm/format');
       const format = Object.keys(require.cache);
       require(${JSON.stringify(path.join(root, 'packages/framebus/src/index.ts'))});
       const framebus = Object.keys(require.cache);
       console.log(JSON.stringify({ format, framebus }));`,
    ],
    { encoding: 'utf8', cwd: root },
  );
  const { format, framebus } = JSON.parse(loaded) as { format: string[]; framebus: string[] };
  expect(format.some((file) => file.endsWith('packages/mit-shm/src/format.ts'))).toBe(true);
  expect(framebus.some((file) => file.endsWith('packages/mit-shm/src/format.ts'))).toBe(true);
  const x11 = (files: string[]) =>
    files.filter((file) => /[/\\]x11[/\\]|mit-shm[/\\]src[/\\](?!format)/.test(file));
  expect(x11(format)).toEqual([]);
  expect(x11(framebus)).toEqual([]);
});
