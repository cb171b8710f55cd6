// RocketMQ's config files (topics.json, consumerOffset.json, subscriptionGroup.json): pretty JSON,
// the previous content kept as <file>.bak before each write, and the .bak read when the file is
// missing or damaged (ConfigManager / MixAll.string2File). Written via a temp file and rename, so a
// crash never leaves a half file. Reading accepts fastjson's bare numeric keys.
import { copyFileSync, existsSync, readFileSync, renameSync, writeFileSync, mkdirSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseLenientJson, type JsonValue } from '@orbit/remoting';

export function readJsonConfig(path: string): JsonValue | undefined {
  for (const candidate of [path, `${path}.bak`]) {
    if (!existsSync(candidate)) continue;
    try {
      const text = readFileSync(candidate, 'utf8');
      if (text.trim() === '') continue;
      return parseLenientJson(text);
    } catch {
      // damaged: try the backup
    }
  }
  return undefined;
}

export function writeJsonConfig(path: string, value: unknown): void {
  mkdirSync(dirname(path), { recursive: true });
  const text = JSON.stringify(value, null, 2);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text);
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (existsSync(path)) copyFileSync(path, `${path}.bak`);
  renameSync(tmp, path);
}

export interface DataVersion {
  stateVersion: number;
  timestamp: number;
  counter: number;
}

export function newDataVersion(): DataVersion {
  return { stateVersion: 0, timestamp: Date.now(), counter: 0 };
}

export function nextDataVersion(v: DataVersion): void {
  v.timestamp = Date.now();
  v.counter++;
}

/** RocketMQ's DataVersion.equals: all three fields. */
export function dataVersionEquals(a: DataVersion, b: DataVersion): boolean {
  return a.stateVersion === b.stateVersion && a.timestamp === b.timestamp && a.counter === b.counter;
}

/** A DataVersion read from a peer's JSON, or undefined when it is not one. */
export function parseDataVersion(value: unknown): DataVersion | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const num = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);
  const timestamp = num(v.timestamp);
  const counter = num(v.counter);
  if (timestamp === undefined || counter === undefined) return undefined;
  return { stateVersion: num(v.stateVersion) ?? 0, timestamp, counter };
}
