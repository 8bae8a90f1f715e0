// The command-line parser both xshm CLIs use (shmtool here, xshot in apps/xshot): a table of commands, each
// declaring its options and arguments, read once with node:util's parseArgs. Commands are functions that
// take the parsed options and return an exit code (0 ok, 1 failure, 2 usage). --help and --version work
// after any command. This file imports nothing but node:util, so `--help` and `--version` load no FFI,
// X or image library: it is the subpath `@xshm/shm/cli-args`, not part of the package's index.

import type { Writable } from 'node:stream';
import { parseArgs } from 'node:util';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A command line that does not say what it means: the program prints it with a hint and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * One option. The table key is the property the command receives (camelCase); the flag is its kebab-case
 * form: `windowName` is `--window-name`.
 */
export interface OptionSpec<T = unknown> {
  /** 'string' takes a value (`--fps 30`, `--fps=30`); 'boolean' is a switch. */
  type: 'string' | 'boolean';
  /** One letter: `-d`. */
  short?: string;
  /** The value's name in the help: `--region X,Y,W,H`. Default VALUE. */
  value?: string;
  /** One line for the help. */
  help: string;
  /** Turns the text into the value the command receives; throws (UsageError or any Error) to refuse it. */
  parse?: (text: string) => T;
  /** The value when the option is not given. */
  default?: T;
  /** Also accept `--no-NAME`, which gives false. */
  negatable?: boolean;
}

export type Options = Record<string, OptionSpec>;

type ValueOf<S> = S extends { parse: (text: string) => infer T }
  ? T
  : S extends { type: 'boolean' }
    ? boolean
    : string;
type Negated<S, T> = S extends { negatable: true } ? T | false : T;

/** What a command receives for an option table: parsed values, `undefined` where absent without a default. */
export type OptionValues<O extends Options> = {
  [K in keyof O]: O[K] extends { default: unknown }
    ? Negated<O[K], ValueOf<O[K]>>
    : Negated<O[K], ValueOf<O[K]>> | undefined;
};

/** A positional argument, for the usage line and the count check. */
export interface ArgumentSpec {
  /** As shown: FILE, IMAGE. */
  name: string;
  help?: string;
  /** Default false. */
  required?: boolean;
  /** Takes the rest (last argument only). */
  variadic?: boolean;
}

/** Where a command reads and writes; tests pass their own streams. */
export interface Io {
  stdin: NodeJS.ReadableStream;
  stdout: Writable;
  stderr: Writable;
}

/**
 * The process's streams. stdin is read through a getter: touching process.stdin builds its stream (for a
 * file or /dev/null an fs.ReadStream, which loads fs/promises and readline: ~1.5 ms), and only a command
 * that reads stdin needs it.
 */
export const processIo: Io = {
  get stdin() {
    return process.stdin;
  },
  stdout: process.stdout,
  stderr: process.stderr,
};

export interface CommandSpec<O extends Options = Options> {
  /** Checked for count when given; without it, run() checks the positionals itself. */
  args?: readonly ArgumentSpec[];
  /** The synopsis after the command name when `args` does not say it well (default: from `args`). */
  usage?: string;
  /** Paragraphs after the summary in the command's help. */
  details?: string;
  options: O;
  /** The command: positionals and options in, exit code out. Throw UsageError for a usage error. */
  run(args: string[], options: OptionValues<O>, io: Io): Promise<number> | number;
}

/** A command in a program's table: its summary, and a function that loads its spec (so `--help` loads none). */
export interface CommandEntry {
  /** One line: the program's command list and the top of the command's help. */
  summary: string;
  load(): CommandSpec;
}

export interface Program {
  name: string;
  /** e.g. '1.2.3' (printed as `NAME 1.2.3`); read only for --version. */
  version(): string;
  /** One line under the usage line of the program's help. */
  summary: string;
  commands: Record<string, CommandEntry>;
  /** Said after "no command given" (e.g. "try `xshot demo`"). */
  hint?: string;
  /** Rewrites a failure's message for the command line (library wording to flags and commands). */
  translate?(message: string): string;
}

/** Declares a command with its option types inferred from the table. */
export function defineCommand<const O extends Options>(spec: CommandSpec<O>): CommandSpec<O> {
  return spec;
}

/** `windowName` to `window-name`. */
export function flagOf(key: string): string {
  return key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

const HELP_FLAGS = new Set(['--help', '-h']);
const VERSION_FLAGS = new Set(['--version', '-V']);

/** The arguments before `--`: where --help and --version count. */
function flagsBefore(args: readonly string[]): readonly string[] {
  const end = args.indexOf('--');
  return end === -1 ? args : args.slice(0, end);
}

/** Parses a command's arguments (after its name) against its spec. Throws UsageError. */
export function parseCommand<O extends Options>(
  spec: CommandSpec<O>,
  args: readonly string[],
  name = 'the command',
): { args: string[]; options: OptionValues<O> } {
  const config: NonNullable<Parameters<typeof parseArgs>[0]>['options'] = {};
  const byFlag = new Map<string, { key: string; negated: boolean }>();
  for (const [key, option] of Object.entries(spec.options)) {
    const flag = flagOf(key);
    config[flag] = { type: option.type, ...(option.short ? { short: option.short } : {}) };
    byFlag.set(flag, { key, negated: false });
    if (option.negatable) {
      config[`no-${flag}`] = { type: 'boolean' };
      byFlag.set(`no-${flag}`, { key, negated: true });
    }
  }
  // Not strict: a string option takes the next argument whatever it is (`--key -5`, `-s -`), and a
  // negative number standing alone is a positional, both of which strict mode refuses. Checked below.
  const { tokens } = parseArgs({
    args: [...args],
    options: config,
    allowPositionals: true,
    strict: false,
    tokens: true,
  });
  const positionals: string[] = [];
  const texts = new Map<string, string | boolean>();
  const numbers = new Set<number>();
  for (const token of tokens) {
    if (token.kind === 'positional') positionals.push(token.value);
    if (token.kind !== 'option') continue;
    const raw = args[token.index]!;
    const known = byFlag.get(token.name);
    if (!known) {
      if (/^-\d/.test(raw)) {
        // -5 or -50: a negative number (parseArgs splits it into short flags); once per argument.
        if (!numbers.has(token.index)) positionals.push(raw);
        numbers.add(token.index);
        continue;
      }
      throw new UsageError(`unknown option '${token.rawName}'`);
    }
    const option = spec.options[known.key]!;
    const shown = `--${flagOf(known.key)}`;
    if (option.type === 'string' && !known.negated) {
      if (token.value === undefined) {
        throw new UsageError(`option '${shown}' needs a value (${shown} ${option.value ?? 'VALUE'})`);
      }
      texts.set(known.key, token.value);
    } else {
      if (token.inlineValue) throw new UsageError(`option '${token.rawName}' takes no value`);
      texts.set(known.key, !known.negated);
    }
  }
  const values: Record<string, unknown> = {};
  for (const [key, option] of Object.entries(spec.options)) {
    const text = texts.get(key);
    if (text === undefined) values[key] = option.default;
    else if (typeof text === 'string' && option.parse) values[key] = parseValue(option, text);
    else values[key] = text;
  }
  if (spec.args) checkCount(name, spec, positionals);
  return { args: positionals, options: values as OptionValues<O> };
}

function parseValue(option: OptionSpec, text: string): unknown {
  try {
    return option.parse!(text);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function checkCount(name: string, spec: CommandSpec, positionals: readonly string[]): void {
  const specs = spec.args ?? [];
  const required = specs.filter((arg) => arg.required).length;
  if (positionals.length < required) throw new UsageError(`${name} needs ${specs[positionals.length]!.name}`);
  if (!specs.at(-1)?.variadic && positionals.length > specs.length) {
    const extra = `'${positionals[specs.length]}'`;
    throw new UsageError(
      specs.length === 0
        ? `${name} takes no arguments (${extra} given)`
        : `${name} takes ${synopsis(spec)}; ${extra} is one argument too many`,
    );
  }
}

/** The synopsis of a command's arguments: `[FILE|-]`, `IMAGE...`. */
function synopsis(spec: CommandSpec): string {
  if (spec.usage !== undefined) return spec.usage;
  return (spec.args ?? [])
    .map((arg) => {
      const name = `${arg.name}${arg.variadic ? '...' : ''}`;
      return arg.required ? name : `[${name}]`;
    })
    .join(' ');
}

function columns(rows: readonly [string, string][]): string {
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`.trimEnd()).join('\n');
}

/** The help of one command. */
export function commandHelp(program: Program, name: string, spec: CommandSpec): string {
  const rows: [string, string][] = Object.entries(spec.options).map(([key, option]) => {
    const flag = `--${option.negatable && option.type === 'boolean' ? `[no-]` : ''}${flagOf(key)}`;
    const value = option.type === 'string' ? ` ${option.value ?? 'VALUE'}` : '';
    const negation = option.negatable && option.type === 'string' ? ` (--no-${flagOf(key)} to turn off)` : '';
    const fallback =
      option.default !== undefined && option.type === 'string' ? ` (default ${String(option.default)})` : '';
    return [
      `${option.short ? `-${option.short}, ` : '    '}${flag}${value}`,
      `${option.help}${fallback}${negation}`,
    ];
  });
  rows.push(['-h, --help', 'show this help'], ['-V, --version', `print ${program.name}'s version`]);
  const args = (spec.args ?? []).filter((arg) => arg.help);
  const line = [
    `usage: ${program.name} ${name}`,
    synopsis(spec),
    Object.keys(spec.options).length ? '[options]' : '',
  ]
    .filter(Boolean)
    .join(' ');
  return (
    `${line}\n\n${program.commands[name]?.summary ?? ''}\n${spec.details ? `\n${spec.details}\n` : ''}` +
    (args.length ? `\narguments:\n${columns(args.map((arg) => [arg.name, arg.help!]))}\n` : '') +
    `\noptions:\n${columns(rows)}\n`
  );
}

/** The help of the program: its commands. */
export function programHelp(program: Program): string {
  const rows = Object.entries(program.commands).map(([name, entry]): [string, string] => [
    name,
    entry.summary,
  ]);
  return (
    `usage: ${program.name} COMMAND [ARGS] [options]\n\n${program.summary}\n\ncommands:\n${columns(rows)}\n\n` +
    `  ${program.name} COMMAND --help shows a command's arguments and options; --version prints the version.\n`
  );
}

/**
 * Runs `argv` (without node and the script) against `program`; resolves to the exit code. Usage errors
 * print `NAME: message` and `(add --help for usage)` and give 2; any other error prints `NAME: message`
 * (through program.translate) and gives 1; a closed stdout (EPIPE) ends quietly with 0.
 */
export async function runProgram(program: Program, argv: readonly string[], io: Io): Promise<number> {
  const say = (message: string): void => {
    io.stderr.write(`${program.name}: ${message}\n`);
  };
  // An error on stdout must not end the process with a stack trace: a command that wrote learns of it
  // through its write callback (or its interrupt scope); one that wrote without waiting is told here.
  const stdout = watch(io.stdout);
  watch(io.stderr);
  const before = stdout.error;
  const print = (text: string): Promise<number> =>
    new Promise((resolve) => {
      io.stdout.write(text, (error) => {
        if (!error || isClosedPipe(error)) return resolve(EXIT_OK);
        say(`cannot write to stdout: ${describeError(error)}`);
        resolve(EXIT_FAILURE);
      });
    });
  const [name, ...rest] = argv;
  if (name === undefined) {
    say(`no command given${program.hint ? `; ${program.hint}` : ''}`);
    io.stderr.write(programHelp(program));
    return EXIT_USAGE;
  }
  if (VERSION_FLAGS.has(name) || flagsBefore(rest).some((arg) => VERSION_FLAGS.has(arg))) {
    return print(`${program.name} ${program.version()}\n`);
  }
  if (HELP_FLAGS.has(name) || (name === 'help' && rest.length === 0)) {
    return print(programHelp(program));
  }
  const helpFor = name === 'help' ? rest[0] : undefined;
  const commandName = helpFor ?? name;
  const entry = Object.hasOwn(program.commands, commandName) ? program.commands[commandName] : undefined;
  if (!entry) {
    say(`unknown command '${commandName}'`);
    io.stderr.write('(add --help for usage)\n');
    return EXIT_USAGE;
  }
  const spec = entry.load();
  if (helpFor !== undefined || flagsBefore(rest).some((arg) => HELP_FLAGS.has(arg))) {
    return print(commandHelp(program, commandName, spec));
  }
  let code: number;
  try {
    const parsed = parseCommand(spec, rest, commandName);
    code = await spec.run(parsed.args, parsed.options, io);
  } catch (error) {
    if (error instanceof UsageError) {
      say(error.message);
      io.stderr.write('(add --help for usage)\n');
      return EXIT_USAGE;
    }
    if (isClosedPipe(error)) return EXIT_OK;
    const message =
      error === stdout.error ? `cannot write to stdout: ${describeError(error)}` : describeError(error);
    say(program.translate ? program.translate(message) : message);
    return EXIT_FAILURE;
  }
  const stdoutError = stdout.error !== before ? stdout.error : undefined;
  if (code === EXIT_OK && stdoutError && !isClosedPipe(stdoutError)) {
    say(`cannot write to stdout: ${describeError(stdoutError)}`);
    return EXIT_FAILURE;
  }
  return code;
}

const watched = new WeakMap<Writable, { error?: NodeJS.ErrnoException }>();

/**
 * Listens for errors on `stream` for good (an 'error' event with no listener ends the process with a stack
 * trace, and a failed write's event comes after its callback) and keeps the first.
 */
function watch(stream: Writable): { error?: NodeJS.ErrnoException } {
  let state = watched.get(stream);
  if (!state) {
    const seen: { error?: NodeJS.ErrnoException } = {};
    stream.on('error', (error: NodeJS.ErrnoException) => {
      seen.error ??= error;
    });
    watched.set(stream, seen);
    state = seen;
  }
  return state;
}

/** EPIPE: the reader went away (`| head`). Not a failure of ours, as for cat or import. */
export function isClosedPipe(error: unknown): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === 'EPIPE';
}

/** An error's message; a raw I/O error (a write to a full disk) says what failed in plain words. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { code, syscall } = error as NodeJS.ErrnoException;
  if (code && syscall && error.message.startsWith(`${code}:`)) {
    // 'ENOSPC: no space left on device, write' -> 'no space left on device (ENOSPC)'
    return `${error.message
      .slice(code.length + 1)
      .split(',')[0]!
      .trim()} (${code})`;
  }
  return error.message;
}
