// Prints jest's totals over every project as one plain closing line, "N passed, N failed",
// which CI reads. It is written at process exit so that it comes after jest's own summary.
class TotalsReporter {
  onRunComplete(_contexts, results) {
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const skipped = results.numPendingTests + results.numTodoTests;
    const line = `${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
    process.on('exit', () => process.stdout.write(`\n${line}\n`));
  }
}
module.exports = TotalsReporter;
