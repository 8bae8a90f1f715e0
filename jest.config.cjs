// Every package's tests in one run, one summary; the totals reporter prints the plain
// "N passed, N failed" line that CI reads.
module.exports = {
  projects: ['<rootDir>/packages/*/jest.config.cjs', '<rootDir>/apps/*/jest.config.cjs'],
  reporters: ['default', '<rootDir>/scripts/totals-reporter.cjs'],
  testTimeout: 60000,
};
