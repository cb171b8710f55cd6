// @orbit/admin: the mqadmin command line (bin/mqadmin) and the pieces it is made of.
export * from './admin-api.js';
export * from './cli.js';
export * from './format.js';
export * from './table.js';
export { COMMANDS } from './commands/index.js';
