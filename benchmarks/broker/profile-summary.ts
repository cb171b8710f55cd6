// Where a profiled process's time went, as text: reads clinic flame's samples file
// (<pid>.clinic-flame/<pid>.clinic-flame-samples) or a V8 .cpuprofile (node --cpu-prof) and
// aggregates the stacks.
//
//   node --import tsx benchmarks/broker/profile-summary.ts <file or clinic-flame dir> [--top 25] [--tsx-cache DIR]
//
// Both formats give stacks; in clinic's samples file each sample is an array of frames ordered
// root first, leaf last (the last frame is where the CPU was). Printed:
//   - idle (the event loop waiting in epoll_pwait, or the profiler's "(idle)"), start-up (module
//     loading), garbage collection (.cpuprofile only; --prof ticks in GC land on the JS frame that
//     triggered it) and busy samples;
//   - self time by leaf frame, over busy samples;
//   - time by the Orbit function nearest the leaf (the leaf itself when it is Orbit code, otherwise
//     the Orbit caller of the Node or native code that was running): "what our code cost, with the
//     library and system work it asked for";
//   - inclusive time of Orbit functions (on the stack at all);
//   - the same nearest-Orbit attribution summed per package and file.
// Optimised code inlines small callees, so a caller's self time can include them (clinic's --prof
// samples cannot be split further; .cpuprofile frames are already split by V8).
// Orbit frames are named by the positions of tsx's one-line transpiled code ("file.ts:1:7139"); the
// tool maps them back to source lines through the source maps tsx keeps in its cache
// (os.tmpdir()/tsx-<uid>), taking the newest cached build of each file, so run it before the
// sources change. Not a test: benchmarks never run in CI.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderTextTable } from '../lib/table.js';
import { parseToolArgs, usageText, type OptionSpec } from './tool-common.js';

const SPECS: OptionSpec[] = [
  { names: ['top'], kind: 'number', help: 'rows per table (25)' },
  { names: ['tsx-cache'], kind: 'string', help: "tsx's cache directory (os.tmpdir()/tsx-<uid>)" },
  { names: ['json'], kind: 'boolean', help: 'print the aggregates as JSON instead of tables' },
  { names: ['h', 'help'], kind: 'boolean', help: 'this help' },
];

const WORKSPACE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Frame {
  /** Function name ("" for anonymous). */
  fn: string;
  /** file:///… URL, node:… id, or a native library / symbol. */
  file: string;
  /** 1-based line and column in the running code, when known. */
  line?: number;
  col?: number;
  native: boolean;
  /** Set by the tool for V8's pseudo frames: (idle), (garbage collector), (program), (root). */
  pseudo?: string;
}

interface Stack {
  frames: Frame[]; // root first
  weight: number;
}

// ---- reading the two formats ----------------------------------------------------------------------

function parseFrameName(name: string, type: string | undefined): Frame {
  if (type === 'CPP' || type === 'SHARED_LIB' || type === 'CODE') return { fn: name, file: name, native: true };
  // "fn file:///path.ts:1:7139", " node:internal/x:168:22" (anonymous), "fn node:events:471:44"
  const m = /^(.*?) ?((?:file:\/\/|node:|\/)[^ ]*?)(?::(\d+):(\d+))?$/.exec(name);
  if (!m) return { fn: name, file: '', native: false };
  return { fn: m[1]!.trim(), file: m[2]!, line: m[3] ? Number(m[3]) : undefined, col: m[4] ? Number(m[4]) : undefined, native: false };
}

function readClinicSamples(path: string): Stack[] {
  const samples = JSON.parse(readFileSync(path, 'utf8')) as { name: string; type?: string }[][];
  return samples.map((st) => ({ frames: st.map((f) => parseFrameName(f.name, f.type)), weight: 1 }));
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

function readCpuProfile(path: string): Stack[] {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as { nodes: CpuProfileNode[]; samples: number[]; timeDeltas: number[] };
  const parent = new Map<number, number>();
  const byId = new Map<number, CpuProfileNode>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const weightById = new Map<number, number>();
  profile.samples.forEach((id, i) => weightById.set(id, (weightById.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const stacks: Stack[] = [];
  for (const [id, weight] of weightById) {
    const frames: Frame[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const cf = byId.get(cur)!.callFrame;
      if (cf.functionName === '(root)') continue;
      if (/^\(.*\)$/.test(cf.functionName) && cf.url === '') {
        frames.unshift({ fn: cf.functionName, file: '', native: true, pseudo: cf.functionName });
      } else {
        frames.unshift({ fn: cf.functionName, file: cf.url || '(native)', line: cf.lineNumber + 1, col: cf.columnNumber + 1, native: cf.url === '' });
      }
    }
    stacks.push({ frames, weight: weight / 1000 }); // µs → ms
  }
  return stacks;
}

// ---- mapping transpiled positions to source lines ---------------------------------------------------

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Segments of a source map: [generatedLine, generatedCol, originalLine] (all 0-based), in order. */
function decodeMappings(mappings: string): [number, number, number][] {
  const out: [number, number, number][] = [];
  let genLine = 0;
  let origLine = 0;
  let origCol = 0;
  let source = 0;
  let name = 0;
  for (const line of mappings.split(';')) {
    let genCol = 0;
    for (const seg of line.split(',')) {
      if (seg === '') continue;
      const values: number[] = [];
      let value = 0;
      let shift = 0;
      for (const ch of seg) {
        const digit = BASE64.indexOf(ch);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          values.push(value & 1 ? -(value >> 1) : value >> 1);
          value = 0;
          shift = 0;
        }
      }
      genCol += values[0]!;
      if (values.length >= 4) {
        source += values[1]!;
        origLine += values[2]!;
        origCol += values[3]!;
        if (values.length >= 5) name += values[4]!;
        out.push([genLine, genCol, origLine]);
      }
    }
    genLine++;
  }
  void source;
  void origCol;
  void name;
  return out;
}

class SourceLines {
  private readonly maps = new Map<string, { segments: [number, number, number][]; lines: string[] } | null>();
  private cacheIndex: Map<string, string> | undefined;

  constructor(private readonly cacheDir: string) {}

  /** Newest tsx cache entry per source path. */
  private index(): Map<string, string> {
    if (this.cacheIndex) return this.cacheIndex;
    const newest = new Map<string, { file: string; mtime: number }>();
    if (existsSync(this.cacheDir)) {
      for (const name of readdirSync(this.cacheDir)) {
        const file = join(this.cacheDir, name);
        try {
          const text = readFileSync(file, 'utf8');
          const m = /"sources":\["([^"]+)"\]/.exec(text.slice(-4096));
          if (!m) continue;
          const mtime = statSync(file).mtimeMs;
          const prev = newest.get(m[1]!);
          if (!prev || mtime > prev.mtime) newest.set(m[1]!, { file, mtime });
        } catch {
          // not a cache entry
        }
      }
    }
    this.cacheIndex = new Map([...newest].map(([k, v]) => [k, v.file]));
    return this.cacheIndex;
  }

  /** The source line (1-based) of a position in the running code, and that line's text. */
  lookup(fileUrl: string, line: number, col: number): { line: number; text: string } | undefined {
    if (!fileUrl.startsWith('file://')) return undefined;
    const path = fileURLToPath(fileUrl);
    let entry = this.maps.get(path);
    if (entry === undefined) {
      entry = null;
      const cacheFile = this.index().get(path);
      if (cacheFile) {
        try {
          const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as { map?: { mappings: string } | string };
          const map = typeof cached.map === 'string' ? (JSON.parse(cached.map) as { mappings: string }) : cached.map;
          if (map) entry = { segments: decodeMappings(map.mappings), lines: existsSync(path) ? readFileSync(path, 'utf8').split('\n') : [] };
        } catch {
          entry = null;
        }
      }
      this.maps.set(path, entry);
    }
    if (!entry) return undefined;
    let best: [number, number, number] | undefined;
    for (const seg of entry.segments) {
      if (seg[0] < line - 1 || (seg[0] === line - 1 && seg[1] <= col - 1)) best = seg;
      else break;
    }
    if (!best) return undefined;
    return { line: best[2] + 1, text: (entry.lines[best[2]] ?? '').trim() };
  }
}

// ---- aggregation ------------------------------------------------------------------------------------

function isOurs(f: Frame): boolean {
  return !f.native && f.file.includes('/packages/') && !f.file.includes('/node_modules/');
}

function isIdle(st: Stack): boolean {
  const leaf = st.frames[st.frames.length - 1];
  if (!leaf) return false;
  if (leaf.pseudo === '(idle)') return true;
  return st.frames.every((f) => f.native) && /epoll_(p)?wait/.test(leaf.fn);
}

function isStartup(st: Stack): boolean {
  return st.frames.some((f) => /^node:internal\/(modules\/esm|modules\/run_main|main\/run_main_module|bootstrap)/.test(f.file) || f.file.includes('/tsx/dist/'));
}

function label(f: Frame, lines: SourceLines): string {
  if (f.pseudo) return f.pseudo;
  if (f.native) return `${f.fn} [native]`;
  const fn = f.fn || '(anonymous)';
  if (f.file.startsWith('file://')) {
    const path = fileURLToPath(f.file);
    const rel = relative(WORKSPACE_ROOT, path);
    const mapped = f.line !== undefined && f.col !== undefined ? lines.lookup(f.file, f.line, f.col) : undefined;
    if (mapped) return `${fn} ${rel}:${mapped.line}${f.fn ? '' : `  «${mapped.text.slice(0, 60)}»`}`;
    return `${fn} ${rel}${f.line !== undefined ? `:${f.line}:${f.col}` : ''}`;
  }
  return `${fn} ${f.file}${f.line !== undefined ? `:${f.line}` : ''}`;
}

function packageOf(f: Frame): string {
  const m = /\/packages\/([^/]+)\/src\/(.+)$/.exec(f.file);
  return m ? `${m[1]}/${m[2]}` : f.file;
}

interface Aggregates {
  totalWeight: number;
  idleWeight: number;
  startupWeight: number;
  gcWeight: number;
  busyWeight: number;
  unit: 'samples' | 'ms';
  selfByLeaf: [string, number][];
  byNearestOurs: [string, number][];
  inclusiveOurs: [string, number][];
  byFile: [string, number][];
  byPackage: [string, number][];
  notOurs: number;
}

function aggregate(stacks: Stack[], lines: SourceLines, unit: 'samples' | 'ms'): Aggregates {
  let total = 0;
  let idle = 0;
  let startup = 0;
  let gc = 0;
  const self = new Map<string, number>();
  const nearest = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const byFile = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let notOurs = 0;
  const add = (m: Map<string, number>, k: string, w: number) => m.set(k, (m.get(k) ?? 0) + w);
  for (const st of stacks) {
    total += st.weight;
    if (isIdle(st)) {
      idle += st.weight;
      continue;
    }
    if (isStartup(st)) {
      startup += st.weight;
      continue;
    }
    const leaf = st.frames[st.frames.length - 1];
    if (leaf?.pseudo === '(garbage collector)') gc += st.weight;
    add(self, leaf ? label(leaf, lines) : '(empty stack)', st.weight);
    const ours = [...st.frames].reverse().find(isOurs);
    if (ours) {
      add(nearest, label(ours, lines), st.weight);
      add(byFile, packageOf(ours), st.weight);
      add(byPackage, packageOf(ours).split('/')[0]!, st.weight);
    } else {
      notOurs += st.weight;
    }
    const seen = new Set<string>();
    for (const f of st.frames) {
      if (!isOurs(f)) continue;
      const l = label(f, lines);
      if (seen.has(l)) continue;
      seen.add(l);
      add(inclusive, l, st.weight);
    }
  }
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return {
    totalWeight: total,
    idleWeight: idle,
    startupWeight: startup,
    gcWeight: gc,
    busyWeight: total - idle - startup,
    unit,
    selfByLeaf: sorted(self),
    byNearestOurs: sorted(nearest),
    inclusiveOurs: sorted(inclusive),
    byFile: sorted(byFile),
    byPackage: sorted(byPackage),
    notOurs,
  };
}

function pct(part: number, whole: number): string {
  return whole > 0 ? `${((part / whole) * 100).toFixed(1)}%` : '—';
}

function printTables(a: Aggregates, top: number): void {
  const w = (v: number) => (a.unit === 'ms' ? v.toFixed(0) : String(v));
  console.log(
    `${a.unit === 'ms' ? 'profiled ms' : 'samples'}: ${w(a.totalWeight)}; idle ${w(a.idleWeight)} (${pct(a.idleWeight, a.totalWeight)}), ` +
      `start-up ${w(a.startupWeight)} (${pct(a.startupWeight, a.totalWeight)}), busy ${w(a.busyWeight)} (${pct(a.busyWeight, a.totalWeight)})` +
      `${a.unit === 'ms' ? `; garbage collector ${w(a.gcWeight)} (${pct(a.gcWeight, a.busyWeight)} of busy)` : ''}. Percentages below are of busy.\n`,
  );
  const table = (title: string, rows: [string, number][], n = top) => {
    console.log(title);
    console.log(
      renderTextTable({
        columns: [{ header: '% busy', align: 'right' }, { header: a.unit, align: 'right' }, { header: 'frame' }],
        rows: rows.slice(0, n).map(([k, v]) => [pct(v, a.busyWeight), w(v), k]),
      }),
    );
    console.log('');
  };
  table('Self time by leaf frame:', a.selfByLeaf);
  table(`By the Orbit function nearest the leaf (with the Node/native work it called); no Orbit frame on the stack: ${pct(a.notOurs, a.busyWeight)}:`, a.byNearestOurs);
  table('Orbit functions, inclusive (on the stack):', a.inclusiveOurs);
  table('Nearest-Orbit time by file:', a.byFile, Math.min(top, 20));
  table('Nearest-Orbit time by package:', a.byPackage, 10);
}

function findInput(path: string): string {
  if (statSync(path).isDirectory()) {
    const candidates: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (name.endsWith('.clinic-flame-samples') || name.endsWith('.cpuprofile')) candidates.push(p);
      }
    };
    walk(path);
    if (candidates.length !== 1) throw new Error(`${path}: expected one *.clinic-flame-samples or *.cpuprofile below it, found ${candidates.length}: ${candidates.join(', ')}`);
    return candidates[0]!;
  }
  return path;
}

function main(): void {
  const argv = process.argv.slice(2);
  const positional = argv.filter((a, i) => !a.startsWith('-') && !(i > 0 && ['--top', '--tsx-cache'].includes(argv[i - 1]!)));
  const a = parseToolArgs(
    argv.filter((x) => !positional.includes(x)),
    SPECS,
  );
  if (a.get('h') || positional.length !== 1) {
    console.log(usageText('node --import tsx benchmarks/broker/profile-summary.ts <samples file | .cpuprofile | clinic dir>', SPECS));
    process.exit(a.get('h') ? 0 : 2);
  }
  const input = findInput(positional[0]!);
  const cacheDir = (a.get('tsx-cache') as string | undefined) ?? join(tmpdir(), `tsx-${userInfo().uid}`);
  const isCpuProfile = input.endsWith('.cpuprofile');
  const stacks = isCpuProfile ? readCpuProfile(input) : readClinicSamples(input);
  const agg = aggregate(stacks, new SourceLines(cacheDir), isCpuProfile ? 'ms' : 'samples');
  if (a.get('json')) {
    console.log(JSON.stringify(agg, null, 2));
    return;
  }
  console.log(`${input}\n`);
  printTables(agg, (a.get('top') as number | undefined) ?? 25);
}

main();
