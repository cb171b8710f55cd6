// What scripts/deployment takes from the workspace: the paths of the two commands it starts, and the
// few package exports it needs. The workspace root is not a package and has no @orbit/* links in its
// node_modules, so the packages' sources are imported by path here, in this one file, and everything
// else in scripts/deployment (and its tests and the replication benchmark) imports from here.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WORKSPACE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MQNAMESRV = join(WORKSPACE_ROOT, 'packages/namesrv/bin/mqnamesrv');
export const MQBROKER = join(WORKSPACE_ROOT, 'packages/broker/bin/mqbroker');
export const CONF_DIR = join(WORKSPACE_ROOT, 'conf');

export { parsePropertiesFile } from '../../packages/common/src/properties-file.js';
export { RequestCode } from '../../packages/common/src/request-code.js';
export { createRequest, RemotingClient } from '../../packages/remoting/src/index.js';
export { AdminClient, Producer, PushConsumer, silentLogger, type MessageExt, type SendResult } from '../../packages/client/src/index.js';
