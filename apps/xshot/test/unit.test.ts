// Unit tests: output naming, and the committed screenshot (the encoders: encode.test.ts; the command
// line: cli.test.ts). Nothing here needs an X server.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatFromPath } from '../src/encode';
import { defaultFileName, freshDefaultPath } from '../src/output';

describe('output naming', () => {
  test('xshot-YYYYMMDD-HHMMSS.png in local time', () => {
    expect(defaultFileName(new Date(2026, 0, 2, 3, 4, 5))).toBe('xshot-20260102-030405.png');
    expect(defaultFileName(new Date(2026, 10, 26, 17, 59, 9), 'jpg')).toBe('xshot-20261126-175909.jpg');
  });
  test('a second shot in the same second does not overwrite the first', () => {
    const folder = mkdtempSync(join(tmpdir(), 'xshot-name-'));
    try {
      const date = new Date(2026, 0, 2, 3, 4, 5);
      const first = freshDefaultPath(folder, date);
      writeFileSync(first, 'x');
      expect(freshDefaultPath(folder, date)).toBe(join(folder, 'xshot-20260102-030405-2.png'));
    } finally {
      rmSync(folder, { recursive: true });
    }
  });
  test('formats from extensions', () => {
    expect(formatFromPath('a.PNG')).toBe('png');
    expect(formatFromPath('a.jpg')).toBe('jpeg');
    expect(formatFromPath('a.rgba')).toBe('raw');
    expect(formatFromPath('a')).toBeUndefined();
  });
});

test('the committed screenshot is a PNG (and is there: the READMEs show it)', () => {
  const header = readFileSync(join(__dirname, '..', 'docs', 'screenshot.png')).subarray(0, 8);
  expect(header).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
});
