#!/usr/bin/env node
// Runs every uvu test file of the workspace, each in its own Node process (a crash or a hang in one
// file cannot take the others down), and closes with the one line CI reads: `N passed, M failed`.
// uvu exits 0 when it finds no test, so this wrapper fails when nothing ran.
//
// Usage: node scripts/run-tests.mjs [substring ...]   (only files whose path contains a substring)
// Env:   ORBIT_TEST_JOBS (parallel files, default 2), ORBIT_TEST_FILE_TIMEOUT_MS (default 300000)
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const rootDir = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2);
const jobs = Math.max(1, Number(process.env.ORBIT_TEST_JOBS ?? 2));
const fileTimeoutMs = Number(process.env.ORBIT_TEST_FILE_TIMEOUT_MS ?? 300_000);
const maxOutputBytes = 4 * 1024 * 1024;

function findTestFiles(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTestFiles(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const files = findTestFiles(join(rootDir, 'packages'), [])
  .concat(findTestFiles(join(rootDir, 'scripts'), []))
  .map((f) => relative(rootDir, f))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();

// uvu prints "Total: N", "Passed: N", "Skipped: N" once per process when run standalone.
function parseSummary(text) {
  const total = /Total:\s+(\d+)/.exec(text);
  const passed = /Passed:\s+(\d+)/.exec(text);
  const skipped = /Skipped:\s+(\d+)/.exec(text);
  if (!total || !passed) return null;
  return { total: Number(total[1]), passed: Number(passed[1]), skipped: skipped ? Number(skipped[1]) : 0 };
}

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: rootDir,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group: a timeout kills the test's children too
    });
    let output = '';
    const collect = (chunk) => {
      if (output.length < maxOutputBytes) output += chunk.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }, fileTimeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* group already gone */ }
      resolve({ file, code, signal, timedOut, output, elapsedMs: Date.now() - started });
    });
  });
}

async function main() {
  if (files.length === 0) {
    console.log('no test files found');
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  const queue = [...files];
  const failures = [];
  async function worker() {
    for (let file = queue.shift(); file; file = queue.shift()) {
      const r = await runFile(file);
      const summary = parseSummary(r.output);
      let filePassed = summary ? summary.passed : 0;
      let fileFailed = summary ? summary.total - summary.passed - summary.skipped : 0;
      skipped += summary ? summary.skipped : 0;
      const broken = r.timedOut || r.code !== 0 || !summary || summary.total === 0;
      if (broken && fileFailed === 0) fileFailed = 1; // a crash, hang or empty file counts as a failure
      passed += filePassed;
      failed += fileFailed;
      const why = r.timedOut ? ` (timed out after ${fileTimeoutMs} ms)` : r.signal ? ` (killed by ${r.signal})` : '';
      console.log(`${broken ? 'FAIL' : 'ok  '} ${file}  ${filePassed} passed, ${fileFailed} failed  ${(r.elapsedMs / 1000).toFixed(1)}s${why}`);
      if (broken) failures.push(r);
    }
  }
  await Promise.all(Array.from({ length: Math.min(jobs, files.length) }, worker));
  for (const r of failures) {
    console.log(`\n----- ${r.file} -----\n${r.output.slice(-20000)}`);
  }
  if (passed + failed === 0) failed = 1;
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(failed > 0 ? 1 : 0);
}

main();
