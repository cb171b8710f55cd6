// `pnpm start`: what Orbit can run today. Until the broker lands (issue 3), this opens the storage
// engine under ./data (or $ORBIT_DATA_DIR), appends and reads back a few messages, and says where the
// files are. It then becomes "start a NameServer and a single-master broker".
import { resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const dataDir = resolve(process.env.ORBIT_DATA_DIR ?? './data');
const example = fileURLToPath(new URL('../packages/store/examples/embed.ts', import.meta.url));
console.log(`Orbit storage engine example, data under ${dataDir}/store`);
const r = spawnSync(process.execPath, ['--import', 'tsx', example, `${dataDir}/store`], { stdio: 'inherit' });
process.exit(r.status ?? 1);
