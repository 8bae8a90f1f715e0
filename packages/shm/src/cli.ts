// shmtool's commands: each takes parsed arguments and returns an exit code (0 ok, 1 failure,
// 2 usage error), so tests call them directly; bin/shmtool.js only runs main(). A superset of the
// Go shmtool: create, open, read and rm behave as there, and input larger than the segment fails.
// The parsing, --help and --version are cli-args.ts's, shared with xshot.
import { fstatSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import {
  defineCommand,
  EXIT_FAILURE,
  EXIT_OK,
  type Io,
  type Program,
  processIo,
  runProgram,
  UsageError,
} from './cli-args';
import type * as SegmentModule from './segment';
import type { Segment, SegmentInfo } from './segment';

/**
 * The segment library (and koffi under it), loaded when a command runs: `shmtool --help` and
 * `--version` load no FFI.
 */
const shm = (): typeof SegmentModule => require('./segment') as typeof SegmentModule;

export type { Io } from './cli-args';

const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
const DECIMAL_UNITS: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12 };

/**
 * A byte count with an optional unit, as ipcmk reads them: 64K and 64KiB are 65536, 64KB is 64000;
 * M, G and T likewise.
 */
export function parseSize(text: string, what = 'size'): number {
  refuseNegative(text);
  const match = /^(\d+)\s*(?:([kmgt])(i?b)?|b)?$/i.exec(text.trim());
  if (!match) throw new UsageError(`${what} '${text}' is not a size (bytes, or with a unit: 64K, 28MiB, 1G)`);
  const unit = (match[2] ?? '').toLowerCase();
  const decimal = match[3]?.toLowerCase() === 'b';
  const value = Number(match[1]) * (decimal ? (DECIMAL_UNITS[unit] ?? 1) : (UNITS[unit] ?? 1));
  if (!Number.isSafeInteger(value)) throw new UsageError(`${what} '${text}' is too large`);
  return value;
}

/** `-5` where a count is wanted: say so, rather than "not a size". (Keys may be negative.) */
function refuseNegative(text: string): void {
  if (/^-\d/.test(text.trim()))
    throw new UsageError(`'${text}' is negative: sizes, ids and offsets are numbers from 0 up`);
}

function parseId(text: string | undefined): number {
  if (text === undefined) throw new UsageError('missing segment ID');
  refuseNegative(text);
  if (!/^\d+$/.test(text) || Number(text) > 2 ** 31 - 1)
    throw new UsageError(`'${text}' is not a segment ID`);
  return Number(text);
}

function parseKey(text: string): number {
  const value = /^0x[0-9a-f]{1,8}$/i.test(text)
    ? Number(text)
    : /^-?\d+$/.test(text)
      ? Number(text)
      : Number.NaN;
  if (!Number.isInteger(value) || value < -(2 ** 31) || value > 2 ** 32 - 1) {
    throw new UsageError(`key '${text}' is not an IPC key (decimal, or hex as 0x1234)`);
  }
  return value;
}

function parseMode(text: string): number {
  if (!/^(0o?)?[0-7]{1,3}$/i.test(text))
    throw new UsageError(`mode '${text}' is not octal permission bits (600)`);
  return Number.parseInt(text.replace(/^0o/i, ''), 8);
}

const parseOffset = (text: string): number => parseSize(text, 'offset');

let userNames: Map<number, string> | undefined;
function userName(uid: number): string {
  if (!userNames) {
    userNames = new Map();
    try {
      for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
        const [name, , id] = line.split(':');
        if (name && id && !userNames.has(Number(id))) userNames.set(Number(id), name);
      }
    } catch {
      // No passwd file (a bare container): owners show as numbers.
    }
  }
  return userNames.get(uid) ?? String(uid);
}

const status = (info: SegmentInfo): string =>
  [info.removed && 'dest', info.locked && 'locked'].filter(Boolean).join(' ');

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

/**
 * stdin must be data: a directory on stdin (`< somedir`) reads as empty on Linux, which would copy nothing
 * and report success.
 */
function checkInput(io: Io): void {
  if ((io.stdin as { fd?: number }).fd !== 0) return;
  let directory = false;
  try {
    directory = fstatSync(0).isDirectory();
  } catch {
    return; // no stdin at all (closed): the copy reports it
  }
  if (directory) throw new Error('stdin is a directory, not data; redirect a file or pipe data in');
}

/** stdin into a segment at `offset`; on overflow, says how much fits and returns false. */
async function copyInput(segment: Segment, offset: number, io: Io): Promise<boolean> {
  if (offset > segment.size) {
    throw new RangeError(`offset ${offset} is past the end of segment ${segment.id} (${segment.size} bytes)`);
  }
  const output = segment.createWriteStream({ start: offset });
  try {
    await pipeline(io.stdin, output);
    return true;
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    const fit = segment.size - offset;
    io.stderr.write(
      `shmtool: the input is larger than segment ${segment.id}: ${fit} bytes fit from offset ${offset} ` +
        `(the segment holds ${segment.size}); ${output.bytesWritten} bytes were written\n`,
    );
    return false;
  }
}

const INTERRUPTS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/**
 * Runs `work` with `cleanup` bound to SIGINT, SIGTERM and SIGHUP: a signal runs it, then ends the process
 * with that signal as it would have without us (exit status 128+n), so `open -s` interrupted while it
 * waits for stdin removes the segment it made.
 */
async function cleanupOnSignal<T>(cleanup: () => void, work: () => Promise<T>): Promise<T> {
  const onSignal = (signal: NodeJS.Signals): void => {
    release();
    cleanup();
    process.kill(process.pid, signal);
  };
  const release = (): void => {
    for (const signal of INTERRUPTS) process.off(signal, onSignal);
  };
  for (const signal of INTERRUPTS) process.on(signal, onSignal);
  try {
    return await work();
  } finally {
    release();
  }
}

const create = defineCommand({
  args: [{ name: 'SIZE', required: true }],
  details:
    'SIZE takes units (64K, 28MiB, 1G). --key is decimal (negative too, as /proc/sysvipc/shm prints it) or\n' +
    '0x hex; none is IPC_PRIVATE. --mode is octal (600).',
  options: {
    key: { type: 'string', short: 'k', value: 'K', help: 'the IPC key', parse: parseKey },
    mode: {
      type: 'string',
      short: 'm',
      value: 'M',
      help: 'permission bits, octal (default 600)',
      parse: parseMode,
    },
  },
  run([sizeText], { key, mode }, io) {
    const size = parseSize(sizeText!);
    if (size === 0) throw new UsageError('SIZE must be at least 1 byte');
    const segment = shm().Segment.create(size, { key, mode });
    io.stdout.write(`${segment.id}\n`);
    return EXIT_OK;
  },
});

const open = defineCommand({
  args: [{ name: 'ID' }],
  details:
    'Without ID, creates a private segment of SIZE (mode 600). Input larger than what fits fails (exit 1),\n' +
    'and a segment created for it is removed, as it is when a signal interrupts the copy.',
  options: {
    size: {
      type: 'string',
      short: 's',
      value: 'SIZE',
      help: 'size of the new segment (64K, 1M)',
      parse: parseSize,
    },
    offset: {
      type: 'string',
      short: 'o',
      value: 'OFFSET',
      help: 'where the data goes (default 0)',
      parse: parseOffset,
    },
  },
  async run([idText], { size, offset = 0 }, io) {
    if (idText === undefined) {
      if (!size) throw new UsageError('open needs an ID, or -s SIZE to create a segment');
      checkInput(io);
      using segment = shm().Segment.create(size);
      const copied = await cleanupOnSignal(
        () => segment.destroy(),
        () => copyInput(segment, offset, io),
      ).catch((error: unknown) => {
        segment.destroy();
        throw error;
      });
      if (!copied) {
        segment.destroy();
        io.stderr.write(`shmtool: removed the new segment ${segment.id}\n`);
        return EXIT_FAILURE;
      }
      io.stdout.write(`${segment.id}\n`);
      return EXIT_OK;
    }
    using segment = shm().Segment.open(parseId(idText));
    checkInput(io);
    if (!(await copyInput(segment, offset, io))) return EXIT_FAILURE;
    io.stdout.write(`${segment.id}\n`);
    return EXIT_OK;
  },
});

const write = defineCommand({
  args: [{ name: 'ID', required: true }],
  details: 'Input larger than what fits from OFFSET fails (exit 1) and says how many bytes fit.',
  options: {
    offset: {
      type: 'string',
      short: 'o',
      value: 'OFFSET',
      help: 'where the data goes (default 0)',
      parse: parseOffset,
    },
  },
  async run([idText], { offset = 0 }, io) {
    using segment = shm().Segment.open(parseId(idText));
    checkInput(io);
    return (await copyInput(segment, offset, io)) ? EXIT_OK : EXIT_FAILURE;
  },
});

const read = defineCommand({
  args: [{ name: 'ID', required: true }],
  details: 'Reads SIZE bytes from OFFSET; no SIZE, 0, or more than remains reads to the end.',
  options: {
    offset: {
      type: 'string',
      short: 'o',
      value: 'OFFSET',
      help: 'where to start (default 0)',
      parse: parseOffset,
    },
    size: {
      type: 'string',
      short: 's',
      value: 'SIZE',
      help: 'how many bytes (default: to the end)',
      parse: parseSize,
    },
  },
  async run([idText], { offset = 0, size }, io) {
    using segment = shm().Segment.open(parseId(idText));
    if (offset > segment.size) {
      throw new RangeError(
        `offset ${offset} is past the end of segment ${segment.id} (${segment.size} bytes)`,
      );
    }
    const end = Math.min(segment.size, offset + (size || segment.size)) - 1;
    // A reader that stops early (| head) ends the pipeline with EPIPE: runProgram ends quietly on it.
    await pipeline(segment.createReadStream({ start: offset, end }), io.stdout, { end: false });
    return EXIT_OK;
  },
});

const ls = defineCommand({
  args: [],
  options: { json: { type: 'boolean', help: 'print JSON' } },
  run(_args, { json: asJson }, io) {
    const segments = shm().list();
    if (asJson) {
      io.stdout.write(json(segments));
      return EXIT_OK;
    }
    const header = ['id', 'key', 'owner', 'perms', 'bytes', 'nattch', 'status'];
    const rows = segments.map((info) => [
      String(info.id),
      shm().formatKey(info.key),
      userName(info.uid),
      info.mode.toString(8).padStart(3, '0'),
      String(info.size),
      String(info.nattch),
      status(info),
    ]);
    io.stdout.write(`${table([header, ...rows])}\n`);
    return EXIT_OK;
  },
});

const info = defineCommand({
  args: [{ name: 'ID', required: true }],
  options: { json: { type: 'boolean', help: 'print JSON' } },
  run([idText], { json: asJson }, io) {
    const info = shm().Segment.open(parseId(idText)).stat();
    if (asJson) {
      io.stdout.write(json(info));
      return EXIT_OK;
    }
    const time = (date: Date | null) => date?.toISOString() ?? 'never';
    const rows = [
      ['id', String(info.id)],
      ['key', `${shm().formatKey(info.key)} (${info.key})`],
      ['size', String(info.size)],
      ['mode', shm().formatMode(info.mode)],
      ['owner', `${userName(info.uid)} (uid ${info.uid}, gid ${info.gid})`],
      ['creator', `${userName(info.cuid)} (uid ${info.cuid}, gid ${info.cgid}, pid ${info.cpid})`],
      ['last pid', String(info.lpid)],
      ['nattch', String(info.nattch)],
      ['attached', time(info.atime)],
      ['detached', time(info.dtime)],
      ['changed', time(info.ctime)],
      ['status', status(info) || '-'],
    ];
    io.stdout.write(`${table(rows)}\n`);
    return EXIT_OK;
  },
});

const rm = defineCommand({
  args: [{ name: 'ID', required: true, variadic: true }],
  options: {},
  run(positionals, _options, io) {
    const ids = positionals.map(parseId);
    let failed = 0;
    for (const id of ids) {
      try {
        shm().Segment.open(id).destroy();
      } catch (error) {
        failed++;
        io.stderr.write(`shmtool: ${translate((error as Error).message)}\n`);
      }
    }
    return failed ? EXIT_FAILURE : EXIT_OK;
  },
});

/**
 * The library's advice names its API (`list()`, `Segment.open({ key })`); on the command line the same
 * advice names shmtool's commands.
 */
const CLI_WORDING: [RegExp, string][] = [
  [/list segments with list\(\) or shmtool ls/, 'list segments with shmtool ls'],
  [
    /open it with Segment\.open\(\{ key \}\), pass \{ exclusive: false \}, or remove it \(([^)]*)\)/,
    'remove it ($1) or choose another --key',
  ],
  [/ \(seg\.setMode, seg\.setOwner\)/, ''],
  [/create one with Segment\.create\(size, \{ key \}\)/, 'create one with shmtool create SIZE --key KEY'],
];

function translate(message: string): string {
  return CLI_WORDING.reduce((text, [pattern, replacement]) => text.replace(pattern, replacement), message);
}

export const program: Program = {
  name: 'shmtool',
  summary: 'System V shared memory segments: data on stdout, messages on stderr.',
  version: () => JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')).version,
  hint: 'try `shmtool ls`',
  commands: {
    create: { summary: 'create a segment and print its id', load: () => create },
    open: {
      summary: 'copy stdin into segment ID, or into a new segment of SIZE; print the id',
      load: () => open,
    },
    write: { summary: 'copy stdin into segment ID', load: () => write },
    read: { summary: 'copy segment ID to stdout (the whole segment by default)', load: () => read },
    ls: { summary: 'list segments, like ipcs -m', load: () => ls },
    info: { summary: 'show everything the kernel knows about segment ID (IPC_STAT)', load: () => info },
    rm: { summary: 'remove segments (IPC_RMID): each goes when its last process detaches', load: () => rm },
  },
  translate,
};

/** Run shmtool with `argv` (without node and the script); resolves to the exit code. */
export function main(argv: string[], io: Io = processIo): Promise<number> {
  return runProgram(program, argv, io);
}
