// How every benchmark command ends: its main's number is the exit code.

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
