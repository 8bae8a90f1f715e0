// X image rows to packed RGB (src/web/rgb.ts) against a per-pixel reference, on the word path
// (no row padding), the row path (padded stride, odd width) and RGB565.
import { writeRGB, type XImageRows } from '../src/web/rgb';
import { noise } from './stream-helpers';

function image(width: number, height: number, stride: number, channels: string, data: Buffer): XImageRows {
  return {
    width,
    height,
    stride,
    data,
    format: { channels },
    toRGBA: () => {
      throw new Error('the fast paths must not fall back to toRGBA');
    },
  };
}

function referenceBGRX(data: Buffer, width: number, height: number, stride: number): Buffer {
  const out = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * stride + x * 4;
      out.set([data[i + 2]!, data[i + 1]!, data[i]!], (y * width + x) * 3);
    }
  }
  return out;
}

test.each([
  ['word path, width a multiple of 4', 64, 5, 64 * 4],
  ['word path, pixel count not a multiple of 4', 7, 3, 7 * 4],
  ['row path, padded stride', 13, 4, 13 * 4 + 12],
])('BGRX to RGB: %s', (_name, width, height, stride) => {
  const data = noise(stride * height);
  const target = Buffer.alloc(width * height * 3);
  writeRGB(image(width, height, stride, 'BGRX', data), target);
  expect(target.equals(referenceBGRX(data, width, height, stride))).toBe(true);
});

test('RGB565 widens channels as ImageMagick import does: floor(v * 255 / max)', () => {
  const width = 3;
  const pixels = [0xffff, 0x0000, (30 << 11) | (13 << 5) | 1];
  const data = Buffer.alloc(8);
  for (const [i, pixel] of pixels.entries()) data.writeUInt16LE(pixel, i * 2);
  const target = Buffer.alloc(width * 3);
  writeRGB(image(width, 1, 8, 'RGB565', data), target);
  expect([...target]).toEqual([255, 255, 255, 0, 0, 0, 246, 52, 8]);
});

test('other layouts go through toRGBA and drop alpha', () => {
  const rgba = Buffer.from([1, 2, 3, 255, 4, 5, 6, 255]);
  const target = Buffer.alloc(6);
  writeRGB({ ...image(2, 1, 8, 'masks', Buffer.alloc(8)), toRGBA: () => rgba }, target);
  expect([...target]).toEqual([1, 2, 3, 4, 5, 6]);
});
