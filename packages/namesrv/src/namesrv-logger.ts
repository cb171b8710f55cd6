// Where the NameServer's log lines go. The library never writes to the console on its own: the
// command line (main.ts) passes a console logger, tests pass a silent or collecting one.

export interface NamesrvLogger {
  info(message: string): void;
  warn(message: string): void;
}

export const silentLogger: NamesrvLogger = {
  info: () => undefined,
  warn: () => undefined,
};

/** Timestamped lines: info to stdout, warnings to stderr. */
export function consoleLogger(): NamesrvLogger {
  const stamp = () => new Date().toISOString();
  return {
    info: (message) => process.stdout.write(`${stamp()} INFO ${message}\n`),
    warn: (message) => process.stderr.write(`${stamp()} WARN ${message}\n`),
  };
}
