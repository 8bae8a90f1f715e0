// Pixel formats and RGBA conversion, without a server: the fast paths agree with the generic mask path.

import { compositeCursor, fromRGBA, type PixelFormat, strideOf, toRGB, toRGBA } from '../src';

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
const rgb565: PixelFormat = {
  ...bgrx,
  depth: 16,
  bitsPerPixel: 16,
  redMask: 0xf800,
  greenMask: 0x7e0,
  blueMask: 0x1f,
  channels: 'RGB565',
};

function random(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let s = seed;
  for (let i = 0; i < size; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

test('stride follows bits per pixel and scanline pad', () => {
  expect(strideOf(bgrx, 3)).toBe(12);
  expect(strideOf(rgb565, 3)).toBe(8);
  expect(strideOf({ ...rgb565, scanlinePad: 8 }, 3)).toBe(6);
  expect(strideOf({ ...bgrx, bitsPerPixel: 24, scanlinePad: 32 }, 5)).toBe(16);
});

test('BGRX: fast path (aligned and unaligned) equals the mask path, alpha 255', () => {
  const width = 7;
  const height = 5;
  const stride = strideOf(bgrx, width) + 8; // extra row padding
  const data = random(stride * height, 1);
  const fast = toRGBA(data, { width, height, stride, format: bgrx });
  const generic = toRGBA(data, { width, height, stride, format: { ...bgrx, channels: 'masks' } });
  expect(fast.equals(generic)).toBe(true);
  const unaligned = Buffer.alloc(data.length + 1).subarray(1);
  data.copy(unaligned);
  expect(toRGBA(unaligned, { width, height, stride, format: bgrx }).equals(fast)).toBe(true);
  expect([...fast.subarray(0, 4)]).toEqual([data[2], data[1], data[0], 255]);
});

test('RGB565: fast path equals the mask path; 0 and full scale map to 0 and 255', () => {
  const width = 9;
  const height = 4;
  const stride = strideOf(rgb565, width);
  const data = random(stride * height, 2);
  data.writeUInt16LE(0xffff, 0);
  data.writeUInt16LE(0x0000, 2);
  const fast = toRGBA(data, { width, height, stride, format: rgb565 });
  const generic = toRGBA(data, { width, height, stride, format: { ...rgb565, channels: 'masks' } });
  expect(fast.equals(generic)).toBe(true);
  expect([...fast.subarray(0, 8)]).toEqual([255, 255, 255, 255, 0, 0, 0, 255]);
});

test('MSBFirst 32-bit and 15-bit layouts go through the masks', () => {
  const xrgb: PixelFormat = { ...bgrx, byteOrder: 'MSBFirst', channels: 'XRGB' };
  const data = Buffer.from([0, 10, 20, 30]);
  expect([...toRGBA(data, { width: 1, height: 1, stride: 4, format: xrgb })]).toEqual([10, 20, 30, 255]);
  const rgb555: PixelFormat = {
    ...rgb565,
    depth: 15,
    redMask: 0x7c00,
    greenMask: 0x3e0,
    blueMask: 0x1f,
    channels: 'masks',
  };
  const pixel = Buffer.alloc(2);
  pixel.writeUInt16LE((31 << 10) | (0 << 5) | 16);
  expect([...toRGBA(pixel, { width: 1, height: 1, stride: 4, format: rgb555 })]).toEqual([255, 0, 132, 255]);
});

test('bad sizes are RangeErrors', () => {
  expect(() => toRGBA(Buffer.alloc(10), { width: 2, height: 2, stride: 8, format: bgrx })).toThrow(
    RangeError,
  );
  expect(() =>
    toRGBA(Buffer.alloc(16), { width: 2, height: 2, stride: 8, format: bgrx }, Buffer.alloc(3)),
  ).toThrow(/output buffer has 3 bytes/);
});

test('a premultiplied cursor blends over the image and is clipped', () => {
  const width = 4;
  const height = 3;
  const data = Buffer.alloc(width * height * 4, 0x40);
  const argb = Buffer.alloc(2 * 2 * 4);
  argb.writeUInt32LE(0xff_ff_00_00, 0); // opaque red
  argb.writeUInt32LE(0x80_00_80_00, 4); // half transparent green, premultiplied
  argb.writeUInt32LE(0x00_00_00_00, 8); // transparent
  argb.writeUInt32LE(0xff_00_00_ff, 12); // opaque blue, outside on the right
  compositeCursor(
    data,
    { width, height, stride: width * 4, format: bgrx },
    { x: 2, y: 1, width: 2, height: 2, argb },
  );
  const rgba = toRGBA(data, { width, height, stride: width * 4, format: bgrx });
  const at = (x: number, y: number): number[] => [
    ...rgba.subarray((y * width + x) * 4, (y * width + x) * 4 + 3),
  ];
  expect(at(2, 1)).toEqual([255, 0, 0]);
  expect(at(3, 1)).toEqual([0x20, 0x80 + 0x20, 0x20]);
  expect(at(2, 2)).toEqual([0x40, 0x40, 0x40]);
  expect(at(3, 2)).toEqual([0, 0, 255]);
  expect(at(0, 0)).toEqual([0x40, 0x40, 0x40]);
});

/** RGBA with its alpha bytes dropped: what toRGB must give for every layout. */
function dropAlpha(rgba: Buffer): Buffer {
  const out = Buffer.alloc((rgba.length / 4) * 3);
  for (let i = 0, o = 0; i < rgba.length; i += 4, o += 3) rgba.copy(out, o, i, i + 3);
  return out;
}

describe('toRGB', () => {
  const layouts: [string, PixelFormat][] = [
    ['BGRX', bgrx],
    ['RGB565', rgb565],
    ['masks (BGRX spelled as masks)', { ...bgrx, channels: 'masks' }],
    ['masks (MSBFirst 16 bpp)', { ...rgb565, byteOrder: 'MSBFirst', channels: 'masks' }],
  ];
  test.each(layouts)('%s equals toRGBA without alpha, odd widths and padded rows', (_name, format) => {
    for (const width of [1, 3, 5, 8, 13]) {
      const height = 3;
      const stride = strideOf(format, width) + 8;
      const data = random(stride * height, width);
      const layout = { width, height, stride, format };
      expect(toRGB(data, layout)).toEqual(dropAlpha(toRGBA(data, layout)));
    }
  });

  test('places rows at an offset and stride (PNG rows behind a filter byte), leaving the gaps alone', () => {
    const width = 7;
    const height = 4;
    const layout = { width, height, stride: width * 4, format: bgrx };
    const data = random(width * 4 * height, 9);
    const rowBytes = width * 3 + 1;
    const out = Buffer.alloc(rowBytes * height, 0xee);
    toRGB(data, layout, out, { stride: rowBytes, offset: 1 });
    const packed = toRGB(data, layout);
    for (let y = 0; y < height; y++) {
      expect(out[y * rowBytes]).toBe(0xee);
      expect(out.subarray(y * rowBytes + 1, (y + 1) * rowBytes)).toEqual(
        packed.subarray(y * width * 3, (y + 1) * width * 3),
      );
    }
  });

  test('rejects a short output and a stride narrower than a row', () => {
    const layout = { width: 4, height: 2, stride: 16, format: bgrx };
    const data = Buffer.alloc(32);
    expect(() => toRGB(data, layout, Buffer.alloc(23))).toThrow(/needs 24/);
    expect(() => toRGB(data, layout, undefined, { stride: 11 })).toThrow(/stride of at least 12/);
  });
});

describe('fromRGBA', () => {
  test('BGRX: round trips exactly through toRGBA', () => {
    const width = 5;
    const height = 3;
    const rgba = random(width * height * 4, 4);
    for (let i = 3; i < rgba.length; i += 4) rgba[i] = 255;
    const before = Buffer.from(rgba);
    const layout = { width, height, stride: strideOf(bgrx, width) + 4, format: bgrx };
    const data = Buffer.alloc(layout.stride * height);
    fromRGBA(rgba, data, layout);
    expect(rgba).toEqual(before); // the input is left as it was
    expect(toRGBA(data, layout)).toEqual(rgba);
  });

  test('RGB565: every 5/6-bit value survives RGBA and back', () => {
    const width = 64;
    const layout = { width, height: 1, stride: width * 2, format: rgb565 };
    const data = Buffer.alloc(width * 2);
    for (let v = 0; v < 64; v++) data.writeUInt16LE(((v & 31) << 11) | (v << 5) | (31 - (v & 31)), v * 2);
    const again = Buffer.alloc(width * 2);
    fromRGBA(toRGBA(data, layout), again, layout);
    expect(again).toEqual(data);
  });
});
