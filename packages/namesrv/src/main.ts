// `mqnamesrv`: starts a NameServer, as RocketMQ's NamesrvStartup does.
//   mqnamesrv [-c <namesrv.properties>] [-p] [-h]
//   -c, --configFile <file>  read settings from a .properties file (facts §8.3)
//   -p, --printConfigItem    print the effective config as key=value lines and exit
//   -h, --help               print this help and exit
// Prints "The Name Server boot success. serializeType=JSON" once listening, and shuts down cleanly
// (exit 0) on SIGTERM or SIGINT. Exit 1 when the arguments, the config or the port are unusable.
import { BOOT_SUCCESS_LINE, parseCommandLine, USAGE, type CommandLine } from './command-line.js';
import { consoleLogger } from './namesrv-logger.js';
import {
  defaultNamesrvConfig,
  formatNamesrvConfig,
  loadNamesrvConfigFile,
  resolveNamesrvConfig,
  UNUSED_KEYS,
  type NamesrvConfig,
} from './namesrv-config.js';
import { NamesrvController } from './namesrv-controller.js';

async function main(args: readonly string[]): Promise<number> {
  let commandLine: CommandLine;
  try {
    commandLine = parseCommandLine(args);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 1;
  }
  if (commandLine.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }

  let config: NamesrvConfig;
  try {
    if (commandLine.configFile !== undefined) {
      const loaded = loadNamesrvConfigFile(commandLine.configFile);
      config = loaded.config;
      for (const key of loaded.unknownKeys) process.stderr.write(`WARN unknown config key ignored: ${key}\n`);
      process.stdout.write(`load config properties file OK, ${commandLine.configFile}\n`);
    } else {
      config = resolveNamesrvConfig();
    }
  } catch (error) {
    process.stderr.write(`cannot load config${commandLine.configFile ? ` ${commandLine.configFile}` : ''}: ${(error as Error).message}\n`);
    return 1;
  }
  if (commandLine.printConfig) {
    process.stdout.write(`${formatNamesrvConfig(config)}\n`);
    return 0;
  }

  const logger = consoleLogger();
  const defaults = defaultNamesrvConfig();
  for (const key of UNUSED_KEYS) {
    if (key !== 'configStorePath' && key !== 'rocketmqHome' && config[key] !== defaults[key]) {
      logger.warn(`config ${key}=${String(config[key])} is accepted for compatibility and has no effect in Orbit`);
    }
  }
  if (config.enableControllerInNamesrv) logger.warn('enableControllerInNamesrv is not supported by Orbit; no controller is started');
  if (config.notifyMinBrokerIdChanged) logger.warn('notifyMinBrokerIdChanged is not supported by Orbit; brokers are not notified');

  const controller = new NamesrvController({ config, logger });
  let address: { host: string; port: number };
  try {
    address = await controller.start();
  } catch (error) {
    process.stderr.write(`The Name Server failed to start: ${(error as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`Orbit NameServer listening on ${address.host}:${address.port}\n`);
  process.stdout.write(`${BOOT_SUCCESS_LINE}\n`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`${signal} again: exiting without waiting\n`);
        process.exit(1);
      }
      stopping = true;
      logger.info(`${signal} received, shutting down`);
      controller.shutdown().then(
        () => resolve(0),
        (error: unknown) => {
          process.stderr.write(`shutdown failed: ${(error as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

const exitCode = await main(process.argv.slice(2));
process.exit(exitCode);
