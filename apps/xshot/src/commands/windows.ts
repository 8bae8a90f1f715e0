// `xshot windows [--json]`: the top-level windows as a user sees them (id, geometry, class, pid, title), to
// pick one for `shot --window`, `stream --window` or `share --window`.
import { defineCommand, displayOption, EXIT_OK } from '../options';
import { connectDisplay, type Display } from '../xdisplay';

export interface WindowsOptions {
  display?: string;
  json?: boolean;
}

export async function windows(options: WindowsOptions): Promise<number> {
  let display: Display | undefined;
  try {
    display = await connectDisplay(options.display);
    const list = await display.windows();
    if (options.json) {
      process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      return EXIT_OK;
    }
    const rows = list.map((w) => [
      `0x${w.id.toString(16)}`,
      `${w.width}x${w.height}${signed(w.x)}${signed(w.y)}`,
      String(w.depth),
      w.mapped ? 'yes' : 'no',
      w.pid === null ? '-' : String(w.pid),
      w.class || '-',
      w.title,
    ]);
    process.stdout.write(table([['ID', 'GEOMETRY', 'DEPTH', 'MAPPED', 'PID', 'CLASS', 'TITLE'], ...rows]));
    return EXIT_OK;
  } finally {
    await display?.close();
  }
}

/** An X geometry offset: +10, -5. */
function signed(value: number): string {
  return value < 0 ? String(value) : `+${value}`;
}

/** Columns padded to their widest cell; the last column (the title) is left as it is. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) => row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  '))
    .map((line) => `${line.trimEnd()}\n`)
    .join('');
}

export const command = defineCommand({
  args: [],
  options: {
    json: { type: 'boolean', help: 'print them as JSON (one object per window)' },
    display: displayOption(),
  },
  run: (_args, options) => windows(options),
});
