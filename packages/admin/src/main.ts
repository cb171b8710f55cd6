// Entry point of bin/mqadmin: runs one command and exits with its code (0 ok, 1 failed, 2 usage).
import { runCli } from './cli.js';
import { COMMANDS } from './commands/index.js';

const code = await runCli(process.argv.slice(2), COMMANDS, {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  env: process.env,
});
process.exitCode = code;
// Connections are closed by now; a client timer that lingers must not keep the tool running.
setTimeout(() => process.exit(code), 2_000).unref();
