// Every package's tests in one run, one summary; the totals reporter prints the plain
// "N passed, N failed" line that CI reads. test/ at the root holds what spans the packages:
// the README examples and the consumer test on packed tarballs.
module.exports = {
  projects: [
    '<rootDir>/packages/*/jest.config.cjs',
    '<rootDir>/apps/*/jest.config.cjs',
    require('./jest.config.base.cjs')(__dirname),
  ],
  reporters: ['default', '<rootDir>/scripts/totals-reporter.cjs'],
  testTimeout: 60000,
};
