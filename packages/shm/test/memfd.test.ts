import { closeSync, fstatSync, openSync, readlinkSync, readSync } from 'node:fs';
import { Memfd, pageSize } from '@xshm/shm';

test('a memfd: fd of the given size, buffer aliasing its pages', () => {
  using memfd = Memfd.create(10_000, { name: 'memfd-test' });
  expect(memfd.size).toBe(10_000);
  expect(memfd.buffer.length).toBe(10_000);
  expect(fstatSync(memfd.fd).size).toBe(10_000);
  expect(readlinkSync(`/proc/self/fd/${memfd.fd}`)).toMatch(/^\/memfd:memfd-test/);
  memfd.buffer.write('shared', 9000);
  const check = Buffer.alloc(6);
  readSync(memfd.fd, check, 0, 6, 9000);
  expect(check.toString()).toBe('shared');
});

test('closeFd() keeps the memory; close() is idempotent and leaves a safe buffer', () => {
  const memfd = Memfd.create(4096);
  const fd = memfd.fd;
  memfd.buffer[1] = 42;
  memfd.closeFd();
  memfd.closeFd();
  expect(memfd.fd).toBe(-1);
  expect(() => fstatSync(fd)).toThrow(/EBADF/);
  expect(memfd.buffer[1]).toBe(42);
  expect(memfd.closed).toBe(false);
  memfd.close();
  memfd.close();
  expect(memfd.closed).toBe(true);
  expect(memfd.buffer[1]).toBe(0);
});

test('the fd can be shared: a second mapping of it through /proc sees the same bytes', () => {
  using memfd = Memfd.create(4096, { name: 'shared' });
  memfd.buffer.write('from the mapping');
  const copy = Buffer.alloc(16);
  const other = openSync(`/proc/self/fd/${memfd.fd}`, 'r');
  try {
    readSync(other, copy, 0, 16, 0);
  } finally {
    closeSync(other);
  }
  expect(copy.toString()).toBe('from the mapping');
});

test('populate() maps the pages now: reading them afterwards takes (almost) no page faults', () => {
  using memfd = Memfd.create(4 * 1024 * 1024);
  memfd.populate();
  const before = process.resourceUsage().minorPageFault;
  let sum = 0;
  for (let i = 0; i < memfd.size; i += pageSize) sum += memfd.buffer[i]!;
  expect(sum).toBe(0);
  // The count is the process's (other threads fault a few pages meanwhile): next to none, not one a page.
  expect(process.resourceUsage().minorPageFault - before).toBeLessThan(memfd.size / pageSize / 4);
  memfd.close();
  memfd.populate(); // closed: nothing to map, no error
});
