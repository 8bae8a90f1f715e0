// After the suite: no segment made by a process that ran this package's tests (a jest worker, or a
// program a test started, as test/helpers.ts records) may be left in /proc/sysvipc/shm. Segments
// already marked removed (SHM_DEST) are not left behind: they go with their last attachment, and a
// worker that also ran another package's tests (mit-shm's, whose X server holds its images until it
// stops) may still have some.
const { readFileSync, rmSync } = require('node:fs');
const path = require('node:path');

const SHM_DEST = 0o1000;

module.exports = function globalTeardown() {
  const state = process.env.XSHM_SHM_TEST_STATE;
  if (!state) return;
  const before = new Set(JSON.parse(readFileSync(path.join(state, 'before.json'), 'utf8')));
  const pids = new Set(
    readFileSync(path.join(state, 'pids'), 'utf8').split('\n').filter(Boolean).map(Number),
  );
  rmSync(state, { recursive: true, force: true });
  const [, ...rows] = readFileSync('/proc/sysvipc/shm', 'latin1').trim().split('\n');
  const left = rows
    .map((row) => row.trim().split(/\s+/))
    .filter(([, id, perms, , cpid]) => {
      const removed = (Number.parseInt(perms, 8) & SHM_DEST) !== 0;
      return !before.has(Number(id)) && pids.has(Number(cpid)) && !removed;
    });
  if (left.length > 0) {
    const list = left.map(
      ([key, id, perms, size, cpid]) => `id ${id} key ${key} perms ${perms} size ${size} cpid ${cpid}`,
    );
    throw new Error(
      `segments made while @xshm/shm's tests ran (by a jest worker, or a process a test started) were left behind:\n  ${list.join('\n  ')}`,
    );
  }
};
