// shmtool's commands: each takes parsed arguments and returns an exit code (0 ok, 1 failure,
// 2 usage error), so tests call them directly; bin/shmtool.js only runs main(). A superset of the
// Go shmtool: create, open, read and rm behave as there, and input larger than the segment fails.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { formatKey, formatMode, list, Segment, type SegmentInfo } from './segment';

export interface Io {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

type Options = NonNullable<ParseArgsConfig['options']>;
interface Parsed {
  positionals: string[];
  values: Record<string, string | boolean | undefined>;
}
interface Command {
  usage: string;
  summary: string;
  options: Options;
  details?: string;
  run(args: Parsed, io: Io): Promise<number> | number;
}

/** A command line that does not say what it means: exit 2. */
class UsageError extends Error {}

const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };
const DECIMAL_UNITS: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12 };

/**
 * A byte count with an optional unit, as ipcmk reads them: 64K and 64KiB are 65536, 64KB is 64000;
 * M, G and T likewise.
 */
export function parseSize(text: string, what = 'size'): number {
  const match = /^(\d+)\s*(?:([kmgt])(i?b)?|b)?$/i.exec(text.trim());
  if (!match) throw new UsageError(`${what} '${text}' is not a size (bytes, or with a unit: 64K, 28MiB, 1G)`);
  const unit = (match[2] ?? '').toLowerCase();
  const decimal = match[3]?.toLowerCase() === 'b';
  const value = Number(match[1]) * (decimal ? (DECIMAL_UNITS[unit] ?? 1) : (UNITS[unit] ?? 1));
  if (!Number.isSafeInteger(value)) throw new UsageError(`${what} '${text}' is too large`);
  return value;
}

function parseId(text: string | undefined): number {
  if (text === undefined) throw new UsageError('missing segment ID');
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

const optionalSize = (values: Parsed['values'], name: string, what: string): number | undefined => {
  const text = values[name];
  return typeof text === 'string' ? parseSize(text, what) : undefined;
};

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

const commands: Record<string, Command> = {
  create: {
    usage: 'create SIZE [--key K] [--mode M]',
    summary: 'create a segment and print its id',
    options: { key: { type: 'string', short: 'k' }, mode: { type: 'string', short: 'm' } },
    details:
      'SIZE takes units (64K, 28MiB, 1G). --key is decimal or 0x hex (none: IPC_PRIVATE); --mode is octal (600).',
    run({ positionals: [size, ...extra], values }, io) {
      if (size === undefined || extra.length > 0) throw new UsageError('create takes one SIZE');
      const segment = Segment.create(parseSize(size), {
        key: typeof values.key === 'string' ? parseKey(values.key) : undefined,
        mode: typeof values.mode === 'string' ? parseMode(values.mode) : undefined,
      });
      io.stdout.write(`${segment.id}\n`);
      return 0;
    },
  },
  open: {
    usage: 'open [ID] [-s SIZE] [-o OFFSET]',
    summary: 'copy stdin into segment ID, or into a new segment of SIZE; print the id',
    options: { size: { type: 'string', short: 's' }, offset: { type: 'string', short: 'o' } },
    details:
      'Without ID, creates a private segment of SIZE (mode 600). Input larger than what fits fails (exit 1),\n' +
      'and a segment created for it is removed.',
    async run({ positionals: [idText, ...extra], values }, io) {
      if (extra.length > 0) throw new UsageError('open takes at most one ID');
      const offset = optionalSize(values, 'offset', 'offset') ?? 0;
      if (idText === undefined) {
        const size = optionalSize(values, 'size', 'size');
        if (!size) throw new UsageError('open needs an ID, or -s SIZE to create a segment');
        using segment = Segment.create(size);
        const copied = await copyInput(segment, offset, io).catch((error) => {
          segment.destroy();
          throw error;
        });
        if (!copied) {
          segment.destroy();
          io.stderr.write(`shmtool: removed the new segment ${segment.id}\n`);
          return 1;
        }
        io.stdout.write(`${segment.id}\n`);
        return 0;
      }
      using segment = Segment.open(parseId(idText));
      if (!(await copyInput(segment, offset, io))) return 1;
      io.stdout.write(`${segment.id}\n`);
      return 0;
    },
  },
  write: {
    usage: 'write ID [-o OFFSET]',
    summary: 'copy stdin into segment ID',
    options: { offset: { type: 'string', short: 'o' } },
    details: 'Input larger than what fits from OFFSET fails (exit 1) and says how many bytes fit.',
    async run({ positionals: [idText, ...extra], values }, io) {
      if (extra.length > 0) throw new UsageError('write takes one ID');
      using segment = Segment.open(parseId(idText));
      return (await copyInput(segment, optionalSize(values, 'offset', 'offset') ?? 0, io)) ? 0 : 1;
    },
  },
  read: {
    usage: 'read ID [-o OFFSET] [-s SIZE]',
    summary: 'copy segment ID to stdout (the whole segment by default)',
    options: { offset: { type: 'string', short: 'o' }, size: { type: 'string', short: 's' } },
    details: 'Reads SIZE bytes from OFFSET; no SIZE, 0, or more than remains reads to the end.',
    async run({ positionals: [idText, ...extra], values }, io) {
      if (extra.length > 0) throw new UsageError('read takes one ID');
      using segment = Segment.open(parseId(idText));
      const offset = optionalSize(values, 'offset', 'offset') ?? 0;
      if (offset > segment.size) {
        throw new RangeError(
          `offset ${offset} is past the end of segment ${segment.id} (${segment.size} bytes)`,
        );
      }
      const size = optionalSize(values, 'size', 'size') || segment.size;
      const end = Math.min(segment.size, offset + size) - 1;
      try {
        await pipeline(segment.createReadStream({ start: offset, end }), io.stdout, { end: false });
      } catch (error) {
        // A reader that stopped early (| head) is not a failure of ours.
        if ((error as NodeJS.ErrnoException).code !== 'EPIPE') throw error;
      }
      return 0;
    },
  },
  ls: {
    usage: 'ls [--json]',
    summary: 'list segments, like ipcs -m',
    options: { json: { type: 'boolean' } },
    run({ positionals, values }, io) {
      if (positionals.length > 0) throw new UsageError('ls takes no arguments');
      const segments = list();
      if (values.json) {
        io.stdout.write(json(segments));
        return 0;
      }
      const header = ['id', 'key', 'owner', 'perms', 'bytes', 'nattch', 'status'];
      const rows = segments.map((info) => [
        String(info.id),
        formatKey(info.key),
        userName(info.uid),
        info.mode.toString(8).padStart(3, '0'),
        String(info.size),
        String(info.nattch),
        status(info),
      ]);
      io.stdout.write(`${table([header, ...rows])}\n`);
      return 0;
    },
  },
  info: {
    usage: 'info ID [--json]',
    summary: 'show everything the kernel knows about segment ID (IPC_STAT)',
    options: { json: { type: 'boolean' } },
    run({ positionals: [idText, ...extra], values }, io) {
      if (extra.length > 0) throw new UsageError('info takes one ID');
      const info = Segment.open(parseId(idText)).stat();
      if (values.json) {
        io.stdout.write(json(info));
        return 0;
      }
      const time = (date: Date | null) => date?.toISOString() ?? 'never';
      const rows = [
        ['id', String(info.id)],
        ['key', `${formatKey(info.key)} (${info.key})`],
        ['size', String(info.size)],
        ['mode', formatMode(info.mode)],
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
      return 0;
    },
  },
  rm: {
    usage: 'rm ID...',
    summary: 'remove segments (IPC_RMID): each goes when its last process detaches',
    options: {},
    run({ positionals }, io) {
      if (positionals.length === 0) throw new UsageError('rm needs at least one ID');
      const ids = positionals.map(parseId);
      let failed = 0;
      for (const id of ids) {
        try {
          Segment.open(id).destroy();
        } catch (error) {
          failed++;
          io.stderr.write(`shmtool: ${(error as Error).message}\n`);
        }
      }
      return failed ? 1 : 0;
    },
  },
};

function version(): string {
  const manifest = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8'));
  return `shmtool ${manifest.version}`;
}

function help(): string {
  const width = Math.max(...Object.values(commands).map((command) => command.usage.length));
  const lines = Object.values(commands).map(
    (command) => `  ${command.usage.padEnd(width)}  ${command.summary}`,
  );
  return (
    'usage: shmtool COMMAND [ARGS]\n\nSystem V shared memory segments: data on stdout, messages on stderr.\n\n' +
    `${lines.join('\n')}\n\n  --help     this text, or a command's (shmtool read --help)\n  --version  print the version\n`
  );
}

function commandHelp(command: Command): string {
  return `usage: shmtool ${command.usage}\n\n${command.summary}.\n${command.details ? `${command.details}\n` : ''}`;
}

const processIo: Io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };

/** Run shmtool with `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(help());
    return 0;
  }
  if (name === '--version' || name === '-V') {
    io.stdout.write(`${version()}\n`);
    return 0;
  }
  const command = name === undefined ? undefined : commands[name];
  if (!command || !Object.hasOwn(commands, name ?? '')) {
    io.stderr.write(
      `shmtool: ${name === undefined ? 'missing command' : `unknown command '${name}'`}\n\n${help()}`,
    );
    return 2;
  }
  try {
    // parseArgs would call '-5' an unknown option; say what it is instead.
    // (A key may be negative: the kernel's signed form, as /proc/sysvipc/shm prints it.)
    const negative = rest.find((arg, i) => /^-\d/.test(arg) && !/^(--key|-k)$/.test(rest[i - 1] ?? ''));
    if (negative !== undefined)
      throw new UsageError(`'${negative}' is negative: sizes, ids and offsets are numbers from 0 up`);
    const { positionals, values } = parseArgs({
      args: rest,
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      io.stdout.write(commandHelp(command));
      return 0;
    }
    return await command.run({ positionals, values }, io);
  } catch (error) {
    const usage =
      error instanceof UsageError || (error as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS');
    io.stderr.write(`shmtool: ${(error as Error).message}\n`);
    if (usage) {
      io.stderr.write(`usage: shmtool ${command.usage} (shmtool ${name} --help)\n`);
      return 2;
    }
    return 1;
  }
}
