// The arguments of `mqnamesrv` (RocketMQ's NamesrvStartup options, minus -n, which a NameServer
// has no use for).
export const USAGE = `usage: mqnamesrv [-c <file>] [-p] [-h]
 -c,--configFile <arg>     Name server config properties file
 -h,--help                 Print help
 -p,--printConfigItem      Print all config items`;

/** What RocketMQ prints once the NameServer listens; scripts wait for it. */
export const BOOT_SUCCESS_LINE = 'The Name Server boot success. serializeType=JSON';

export interface CommandLine {
  configFile?: string;
  printConfig: boolean;
  help: boolean;
}

/** Throws Error with a one-line message for an unknown option or a missing argument. */
export function parseCommandLine(args: readonly string[]): CommandLine {
  const out: CommandLine = { printConfig: false, help: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-c' || arg === '--configFile') {
      const file = args[++i];
      if (file === undefined || file === '') throw new Error(`Missing argument for option: ${arg.replace(/^-+/, '')}`);
      out.configFile = file;
    } else if (arg.startsWith('--configFile=')) {
      out.configFile = arg.slice('--configFile='.length);
      if (out.configFile === '') throw new Error('Missing argument for option: configFile');
    } else if (arg === '-p' || arg === '--printConfigItem') {
      out.printConfig = true;
    } else if (arg === '-h' || arg === '--help') {
      out.help = true;
    } else {
      throw new Error(`Unrecognized option: ${arg}`);
    }
  }
  return out;
}
