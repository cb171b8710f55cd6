// mqadmin's command line: `mqadmin <command> [-n host:9876] [options] [--json]`, with RocketMQ's
// command names and one-letter options (commons-cli style: `-t T`, `-tT`, `--topic T`,
// `--topic=T`). Exit codes: 0 done, 1 the operation failed (the broker's or NameServer's answer is
// printed), 2 usage error (unknown command, unknown/missing/bad option) with the usage on stderr.
import { MQBrokerError } from '@orbit/client';
import { ResponseCode, responseCodeName } from '@orbit/common';
import { AdminApi } from './admin-api.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A mistake in the command line: reported with the usage text and exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface OptionSpec {
  /** One letter (`t` for -t); absent for long-only options. */
  short?: string;
  long: string;
  /** Placeholder of the value (`<arg>`); absent for a flag without a value. */
  arg?: string;
  desc: string;
  required?: boolean;
}

export interface CommandSpec<T = unknown> {
  name: string;
  desc: string;
  options: readonly OptionSpec[];
  /** Groups of long option names of which exactly one must be given (commons-cli OptionGroup). */
  oneOf?: readonly (readonly string[])[];
  /** False for commands that never talk to the NameServer. */
  needsNamesrv?: boolean;
  run(ctx: CommandContext): Promise<T>;
  /** The text a person reads; --json prints the result itself instead. */
  text(result: T): string;
  /** What --json prints, when it is not the whole result. */
  json?(result: T): unknown;
}

/** Options every command takes. */
export const COMMON_OPTIONS: readonly OptionSpec[] = [
  { short: 'n', long: 'namesrvAddr', arg: 'arg', desc: 'Name server address list, eg: 192.168.0.1:9876;192.168.0.2:9876 (default: $NAMESRV_ADDR)' },
  { short: 'h', long: 'help', desc: 'Print help' },
  { long: 'json', desc: 'Print a JSON document instead of text' },
];

export class ParsedOptions {
  constructor(
    readonly command: string,
    private readonly values: Map<string, string | true>,
    private readonly specs: readonly OptionSpec[],
  ) {}

  has(long: string): boolean {
    return this.values.has(long);
  }

  private label(long: string): string {
    const spec = this.specs.find((s) => s.long === long);
    return spec?.short ? `-${spec.short} (--${long})` : `--${long}`;
  }

  /** The trimmed value, or undefined when the option is absent. */
  str(long: string): string | undefined {
    const v = this.values.get(long);
    if (v === undefined) return undefined;
    if (v === true) return '';
    return v.trim();
  }

  /** A value that must be present and not blank. */
  need(long: string): string {
    const v = this.str(long);
    if (v === undefined || v === '') throw new UsageError(`Missing required option: ${this.label(long)}`);
    return v;
  }

  int(long: string, range: { min?: number; max?: number } = {}): number | undefined {
    const v = this.str(long);
    if (v === undefined) return undefined;
    const min = range.min ?? -2147483648;
    const max = range.max ?? 2147483647;
    if (!/^-?\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`bad value for ${this.label(long)}: "${v}" is not an integer from ${min} to ${max}`);
    return Number(v);
  }

  long(long: string, range: { min?: number } = {}): number | undefined {
    const v = this.str(long);
    if (v === undefined) return undefined;
    const min = range.min ?? Number.MIN_SAFE_INTEGER;
    if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < min) throw new UsageError(`bad value for ${this.label(long)}: "${v}" is not an integer${min > Number.MIN_SAFE_INTEGER ? ` ≥ ${min}` : ''}`);
    return Number(v);
  }

  bool(long: string): boolean | undefined {
    const v = this.str(long);
    if (v === undefined) return undefined;
    if (/^true$/i.test(v)) return true;
    if (/^false$/i.test(v)) return false;
    throw new UsageError(`bad value for ${this.label(long)}: "${v}" is not true or false`);
  }
}

/** Splits argv after the command name into option values; throws UsageError on any mistake. */
export function parseOptions(command: string, argv: readonly string[], specs: readonly OptionSpec[]): ParsedOptions {
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const byLong = new Map(specs.map((s) => [s.long, s]));
  const values = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    let spec: OptionSpec | undefined;
    let inline: string | undefined;
    if (arg.startsWith('--') && arg.length > 2) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      if (eq >= 0) inline = arg.slice(eq + 1);
      spec = byLong.get(name);
      if (!spec) throw new UsageError(`Unrecognized option: ${arg}`);
    } else if (arg.startsWith('-') && arg.length > 1 && !/^-\d/.test(arg)) {
      // commons-cli: a long name after one dash (-topic T) wins over -t with the value "opic"
      spec = arg.length > 2 ? byLong.get(arg.slice(1)) : undefined;
      if (!spec) {
        spec = byShort.get(arg[1]!);
        if (spec && arg.length > 2) inline = arg.slice(2);
      }
      if (!spec) throw new UsageError(`Unrecognized option: ${arg}`);
    } else {
      throw new UsageError(`Unexpected argument: ${arg}`);
    }
    if (values.has(spec.long)) throw new UsageError(`Option given twice: ${arg}`);
    if (spec.arg === undefined) {
      if (inline !== undefined) throw new UsageError(`Option ${arg} takes no value`);
      values.set(spec.long, true);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      value = argv[++i];
      if (value === undefined) throw new UsageError(`Missing argument for option: ${spec.short ?? spec.long}`);
    }
    values.set(spec.long, value);
  }
  return new ParsedOptions(command, values, specs);
}

/** Checks required options and one-of groups (after -h has been looked at). */
export function checkRequired(spec: CommandSpec, opts: ParsedOptions): void {
  for (const o of spec.options) {
    if (o.required && !opts.has(o.long)) throw new UsageError(`Missing required option: ${o.short ? `-${o.short} (--${o.long})` : `--${o.long}`}`);
  }
  for (const group of spec.oneOf ?? []) {
    const given = group.filter((g) => opts.has(g));
    const names = group.map((g) => {
      const o = spec.options.find((s) => s.long === g);
      return o?.short ? `-${o.short}` : `--${g}`;
    });
    if (given.length === 0) throw new UsageError(`Missing required option: one of ${names.join(', ')}`);
    if (given.length > 1) throw new UsageError(`Options ${names.join(', ')} cannot be used together`);
  }
}

export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
}

export class CommandContext {
  /** Failures of part of the work (one broker of several); they make the exit code 1. */
  readonly failures: string[] = [];
  private apiInstance: AdminApi | undefined;

  constructor(
    readonly spec: CommandSpec,
    readonly opts: ParsedOptions,
    private readonly io: CliIO,
  ) {}

  get json(): boolean {
    return this.opts.has('json');
  }

  get env(): Record<string, string | undefined> {
    return this.io.env;
  }

  namesrvAddr(): string {
    const addr = this.opts.str('namesrvAddr') || this.io.env.NAMESRV_ADDR?.trim();
    if (!addr) throw new UsageError('No NameServer address: give -n host:port or set NAMESRV_ADDR');
    return addr;
  }

  /** The admin connection, created on first use. */
  api(): AdminApi {
    if (!this.apiInstance) {
      try {
        this.apiInstance = new AdminApi(this.namesrvAddr(), requestTimeoutMs(this.io.env));
      } catch (error) {
        if (error instanceof RangeError) throw new UsageError(error.message);
        throw error;
      }
    }
    return this.apiInstance;
  }

  /** Records a failure of part of the work and reports it on stderr; the run continues. */
  fail(what: string, error?: unknown): void {
    const message = error === undefined ? what : `${what}: ${describeError(error)}`;
    this.failures.push(message);
    this.io.stderr(this.json ? `${JSON.stringify({ command: this.spec.name, ...errorJson(error ?? new Error(what)), what })}\n` : `${message}\n`);
  }

  /** Prints an intermediate result now (commands that repeat, like clusterList -i). */
  emit(result: unknown): void {
    const spec = this.spec as CommandSpec<unknown>;
    if (this.json) this.io.stdout(`${JSON.stringify(spec.json ? spec.json(result) : result)}\n`);
    else this.io.stdout(`${spec.text(result)}\n`);
  }

  /** A remark for the person running the command (stderr, not part of the result). */
  note(message: string): void {
    this.io.stderr(`${message}\n`);
  }

  async close(): Promise<void> {
    await this.apiInstance?.close();
  }
}

/** MQADMIN_TIMEOUT_MS overrides the 3 s request timeout (RocketMQ's default). */
function requestTimeoutMs(env: Record<string, string | undefined>): number {
  const v = Number(env.MQADMIN_TIMEOUT_MS);
  return Number.isInteger(v) && v > 0 && v <= 600_000 ? v : 3_000;
}

/** One line saying what went wrong, with the broker's code and remark when it answered. */
export function describeError(error: unknown): string {
  if (error instanceof MQBrokerError) {
    const where = error.brokerAddr ? `${error.brokerAddr} answered` : 'answer';
    const hint = error.code === ResponseCode.REQUEST_CODE_NOT_SUPPORTED ? ' (this broker does not implement the request)' : '';
    return `${where} CODE: ${error.code} (${responseCodeName(error.code)})  DESC: ${error.remark.trim()}${hint}`;
  }
  if (error instanceof Error) {
    const code = (error as { responseCode?: unknown }).responseCode;
    return typeof code === 'number' ? `${error.message} (CODE: ${code} ${responseCodeName(code)})` : error.message;
  }
  return String(error);
}

function errorJson(error: unknown): Record<string, unknown> {
  if (error instanceof MQBrokerError) return { error: describeError(error), code: error.code, codeName: responseCodeName(error.code), remark: error.remark, addr: error.brokerAddr ?? null };
  const code = (error as { responseCode?: unknown } | null)?.responseCode;
  return typeof code === 'number' ? { error: describeError(error), code, codeName: responseCodeName(code) } : { error: describeError(error) };
}

// --- help -----------------------------------------------------------------------------------------

function optionSignature(o: OptionSpec): string {
  const name = o.short ? `-${o.short}` : `--${o.long}`;
  return o.arg ? `${name} <${o.arg}>` : name;
}

export function commandUsage(spec: CommandSpec): string {
  const all = [...spec.options, ...COMMON_OPTIONS];
  const grouped = new Set((spec.oneOf ?? []).flat());
  const parts: string[] = [];
  for (const group of spec.oneOf ?? []) parts.push(`(${group.map((g) => optionSignature(all.find((o) => o.long === g)!)).join(' | ')})`);
  for (const o of all) {
    if (grouped.has(o.long)) continue;
    parts.push(o.required ? optionSignature(o) : `[${optionSignature(o)}]`);
  }
  const rows = all.map((o) => {
    const left = `${o.short ? `-${o.short},` : '   '}--${o.long}${o.arg ? ` <${o.arg}>` : ''}`;
    const tag = o.required ? ' (required)' : grouped.has(o.long) ? ' (one of the group is required)' : '';
    return [left, `${o.desc}${tag}`] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length));
  return [`usage: mqadmin ${spec.name} ${parts.join(' ')}`, `${spec.desc}`, ...rows.map(([l, r]) => ` ${l.padEnd(width)}  ${r}`)].join('\n');
}

export function generalUsage(commands: readonly CommandSpec[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: mqadmin <command> [-n host:9876] [options] [--json]',
    '',
    'The most commonly used mqadmin commands are:',
    ...commands.map((c) => `   ${c.name.padEnd(width)}  ${c.desc}`),
    '',
    "See 'mqadmin help <command>' for more information on a specific command.",
  ].join('\n');
}

// --- run ------------------------------------------------------------------------------------------

export async function runCli(argv: readonly string[], commands: readonly CommandSpec<any>[], io: CliIO): Promise<number> {
  const first = argv[0];
  if (first === undefined) {
    io.stdout(`${generalUsage(commands)}\n`);
    return EXIT_OK;
  }
  if (first === 'help' || first === '-h' || first === '--help') {
    const name = argv[1];
    if (name === undefined) {
      io.stdout(`${generalUsage(commands)}\n`);
      return EXIT_OK;
    }
    const spec = commands.find((c) => c.name === name);
    if (!spec) {
      io.stderr(`mqadmin: unknown command '${name}'\n\n${generalUsage(commands)}\n`);
      return EXIT_USAGE;
    }
    io.stdout(`${commandUsage(spec)}\n`);
    return EXIT_OK;
  }
  const spec = commands.find((c) => c.name === first);
  if (!spec) {
    io.stderr(`mqadmin: unknown command '${first}'\n\n${generalUsage(commands)}\n`);
    return EXIT_USAGE;
  }
  let ctx: CommandContext | undefined;
  try {
    const opts = parseOptions(spec.name, argv.slice(1), [...spec.options, ...COMMON_OPTIONS]);
    if (opts.has('help')) {
      io.stdout(`${commandUsage(spec)}\n`);
      return EXIT_OK;
    }
    checkRequired(spec, opts);
    ctx = new CommandContext(spec, opts, io);
    if (spec.needsNamesrv !== false) ctx.namesrvAddr();
    const result = await spec.run(ctx);
    if (ctx.json) io.stdout(`${JSON.stringify(spec.json ? spec.json(result) : result, null, 2)}\n`);
    else {
      const text = spec.text(result);
      if (text !== '') io.stdout(text.endsWith('\n') ? text : `${text}\n`);
    }
    return ctx.failures.length > 0 ? EXIT_FAILED : EXIT_OK;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`mqadmin ${spec.name}: ${error.message}\n\n${commandUsage(spec)}\n`);
      return EXIT_USAGE;
    }
    if (ctx?.json) io.stderr(`${JSON.stringify({ command: spec.name, ...errorJson(error) })}\n`);
    else io.stderr(`mqadmin ${spec.name}: command failed: ${describeError(error)}\n`);
    return EXIT_FAILED;
  } finally {
    await ctx?.close().catch(() => undefined);
  }
}
