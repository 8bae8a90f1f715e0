import { packageDir, runNode, testLeavesNoSegmentBehind } from './helpers';

// A raw view of a mapping after shmdt/munmap is a SIGSEGV that kills the process: so this runs in a
// child process, which must survive and report what it saw.
const child = String.raw`
const { readFileSync } = require('node:fs');
const { Segment, Memfd } = shm;
// /proc/self/maps: a SysV mapping shows the segment id as its inode.
const maps = () => readFileSync('/proc/self/maps', 'latin1').trim().split('\n').map((line) => {
  const [range, , , , inode] = line.split(/\s+/);
  const [start, end] = range.split('-').map((hex) => BigInt('0x' + hex));
  return { start, end, inode: Number(inode) };
});
const mappingsOf = (id) => maps().filter((m) => m.inode === id);
// The zero pages may merge with a neighbouring anonymous mapping: look for the address, not a line.
const isMapped = (address) => maps().some((m) => m.start <= address && address < m.end);
async function collect(done) {
  for (let i = 0; i < 50 && !done(); i++) {
    global.gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return done();
}

(async () => {
  const report = {};
  const seg = Segment.create(3 * 4096 + 100);
  let attachment = seg.attach();
  let readOnly = seg.attach({ readOnly: true });
  attachment.buffer.fill(0xab);
  const [start] = mappingsOf(seg.id).map((m) => m.start);
  attachment.detach();
  readOnly.detach();
  report.nattchAfterDetach = seg.stat().nattch;
  report.sysvMappingsAfterDetach = mappingsOf(seg.id).length;
  report.sumAfterDetach = attachment.buffer.reduce((a, b) => a + b, 0) + readOnly.buffer.reduce((a, b) => a + b, 0);
  attachment.buffer.fill(1);
  readOnly.buffer.fill(2); // read-only while attached; after detach, private read-write zero pages
  report.readBack = [attachment.buffer[12387], readOnly.buffer[0]];
  const check = Buffer.alloc(1);
  seg.read(check, 0);
  report.segmentUnchanged = check[0];
  seg[Symbol.dispose]();
  seg.destroy();
  attachment.buffer[0] = 3; // after the segment itself is gone
  report.afterDestroy = attachment.buffer[0];
  report.stillMappedBeforeGc = isMapped(start);
  attachment = readOnly = null;
  report.releasedByGc = await collect(() => !isMapped(start));

  // An attachment never detached: the collector's munmap detaches it (the safety net).
  const dropped = Segment.create(4096);
  dropped.attach().buffer[0] = 1;
  dropped.destroy();
  report.droppedAttachedBeforeGc = dropped.stat().nattch;
  report.droppedDetachedByGc = await collect(() => mappingsOf(dropped.id).length === 0);

  // Memfd.close: the same protection.
  const memfd = Memfd.create(10000, { name: 'after-close' });
  memfd.buffer.fill(5);
  memfd.close();
  memfd.close();
  report.memfdAfterClose = [memfd.fd, memfd.buffer[9999]];
  memfd.buffer.fill(6);
  report.memfdWritable = memfd.buffer[0];
  process.stdout.write(JSON.stringify(report));
})();
`;

test('touching buffers after detach, destroy and close does not crash, and reads zeros', () => {
  const result = runNode(child);
  expect({ signal: result.signal, status: result.status, stderr: result.stderr }).toEqual({
    signal: null,
    status: 0,
    stderr: '',
  });
  expect(JSON.parse(result.stdout)).toEqual({
    nattchAfterDetach: 0,
    sysvMappingsAfterDetach: 0,
    sumAfterDetach: 0,
    readBack: [1, 2],
    segmentUnchanged: 0xab,
    afterDestroy: 3,
    stillMappedBeforeGc: true,
    releasedByGc: true,
    droppedAttachedBeforeGc: 1,
    droppedDetachedByGc: true,
    memfdAfterClose: [-1, 0],
    memfdWritable: 6,
  });
});

test('without the zero pages, the same touch kills the process (what the test above guards against)', () => {
  const result = runNode(`
    const koffi = require(require.resolve('koffi', { paths: [${JSON.stringify(packageDir)}] }));
    const libc = koffi.load('libc.so.6');
    const shmget = libc.func('int shmget(int, size_t, int)');
    const shmat = libc.func('void *shmat(int, void *, int)');
    const shmdt = libc.func('int shmdt(void *)');
    const shmctl = libc.func('int shmctl(int, int, void *)');
    const id = shmget(0, 4096, 0o1600);
    const address = shmat(id, null, 0);
    const raw = Buffer.from(koffi.view(address, 4096));
    shmctl(id, 0, null); // IPC_RMID: gone with the detach
    shmdt(address);
    raw[0] = 1;
  `);
  expect(result.signal).toBe('SIGSEGV');
});

testLeavesNoSegmentBehind();
