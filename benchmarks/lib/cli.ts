// How every benchmark command reads its flags and ends: its main's number is the exit code.

/** Runs a command's main: its number is the exit code; a throw prints the stack and exits 2. */
export function runMain(main: () => Promise<number>, prefix = ''): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`${prefix}${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(2);
    },
  );
}

/**
 * Walks `--flag [value]` arguments. `handle` reads a value with `value()` when the flag takes one
 * and returns false for a flag it does not know; -h/--help prints the usage and exits 0, and an
 * unknown flag or a missing value is a RangeError that carries the usage.
 */
export function walkFlags(argv: string[], usage: string, handle: (flag: string, value: () => string) => boolean): void {
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '-h' || flag === '--help') {
      console.log(usage);
      process.exit(0);
    }
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new RangeError(`${flag} needs a value`);
      return v;
    };
    if (!handle(flag, value)) throw new RangeError(`unknown option ${flag}\n${usage}`);
  }
}
