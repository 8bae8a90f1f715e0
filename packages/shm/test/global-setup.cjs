// Before the suite: build dist when it is older than src (the bin and the child processes run it,
// as a user would), and note which segments exist, so that global-teardown.cjs can tell ours apart.
const { execFileSync } = require('node:child_process');
const { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const path = require('node:path');

const packageDir = path.join(__dirname, '..');

function newestIn(dir) {
  return readdirSync(dir, { recursive: true })
    .map((name) => statSync(path.join(dir, name)).mtimeMs)
    .reduce((a, b) => Math.max(a, b), 0);
}

function segmentIds() {
  const [, ...rows] = require('node:fs').readFileSync('/proc/sysvipc/shm', 'latin1').trim().split('\n');
  return rows.map((row) => Number(row.trim().split(/\s+/)[1]));
}

module.exports = function globalSetup() {
  const built = path.join(packageDir, 'dist', 'cli.js');
  if (!existsSync(built) || statSync(built).mtimeMs < newestIn(path.join(packageDir, 'src'))) {
    const tsc = path.join(packageDir, '..', '..', 'node_modules', '.bin', 'tsc');
    execFileSync(tsc, ['-p', 'tsconfig.build.json'], { cwd: packageDir, stdio: 'inherit' });
  }
  const state = mkdtempSync(path.join(tmpdir(), 'xshm-shm-test-'));
  writeFileSync(path.join(state, 'before.json'), JSON.stringify(segmentIds()));
  writeFileSync(path.join(state, 'pids'), '');
  process.env.XSHM_SHM_TEST_STATE = state;
};
