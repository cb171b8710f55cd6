// Java .properties files (broker.conf, namesrv.properties): key=value or key: value, # and ! comments,
// backslash line continuations. Enough for RocketMQ's configs; values stay strings until a typed
// config reads them.
export function parsePropertiesFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.replace(/^\s+/, '');
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    while (/(^|[^\\])(\\\\)*\\$/.test(line) && i + 1 < lines.length) {
      line = line.slice(0, -1) + lines[++i]!.replace(/^\s+/, '');
    }
    const match = /^((?:\\.|[^=:\s])+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (!match) {
      out.set(unescape(line.trim()), '');
      continue;
    }
    out.set(unescape(match[1]!), unescape(match[2]!.trimEnd()));
  }
  return out;
}

function unescape(text: string): string {
  return text.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, c: string) => {
    if (c.length === 5) return String.fromCharCode(parseInt(c.slice(1), 16));
    return c === 't' ? '\t' : c === 'n' ? '\n' : c === 'r' ? '\r' : c === 'f' ? '\f' : c;
  });
}

export type ConfigValueType = 'string' | 'int' | 'bool';

/**
 * Applies string settings onto a typed defaults object: a key is accepted only if the defaults have
 * it, and its value must parse as the default's type. Unknown keys are returned so callers can warn.
 */
export function applySettings<T extends object>(defaults: T, settings: Map<string, string>): { config: T; unknownKeys: string[] } {
  const config = { ...defaults } as Record<string, unknown>;
  const unknownKeys: string[] = [];
  for (const [key, raw] of settings) {
    if (!(key in config)) {
      unknownKeys.push(key);
      continue;
    }
    const current = config[key];
    const value = raw.trim();
    if (typeof current === 'number') {
      const n = Number(value);
      if (value === '' || !Number.isFinite(n)) throw new RangeError(`config ${key}=${raw}: not a number`);
      config[key] = n;
    } else if (typeof current === 'boolean') {
      if (value !== 'true' && value !== 'false') throw new RangeError(`config ${key}=${raw}: not true or false`);
      config[key] = value === 'true';
    } else {
      config[key] = value;
    }
  }
  return { config: config as T, unknownKeys };
}
