// The message properties string: `key 0x01 value 0x02` repeated (MessageDecoder.messageProperties2String
// / string2messageProperties).
import { NAME_VALUE_SEPARATOR, PROPERTY_SEPARATOR } from './message-const.js';

export type MessageProperties = Map<string, string>;

export function encodeProperties(properties: MessageProperties | Record<string, string>): string {
  let out = '';
  const entries = properties instanceof Map ? properties.entries() : Object.entries(properties);
  for (const [key, value] of entries) {
    if (value === undefined || value === null) continue;
    out += key + NAME_VALUE_SEPARATOR + value + PROPERTY_SEPARATOR;
  }
  return out;
}

/** Parses like RocketMQ: split on 0x02, skip chunks under 3 chars, split each on the first 0x01. */
export function decodeProperties(text: string): MessageProperties {
  const out: MessageProperties = new Map();
  if (!text) return out;
  for (const chunk of text.split(PROPERTY_SEPARATOR)) {
    if (chunk.length < 3) continue;
    const sep = chunk.indexOf(NAME_VALUE_SEPARATOR);
    if (sep <= 0 || sep === chunk.length - 1) continue;
    out.set(chunk.slice(0, sep), chunk.slice(sep + 1));
  }
  return out;
}

// "KEY\u0001" for the keys looked up per message (TAGS, KEYS, UNIQ_KEY…): made once, not per call.
const NEEDLE_CACHE_MAX_KEYS = 64;
const needles = new Map<string, string>();

function needleFor(key: string): string {
  let needle = needles.get(key);
  if (needle === undefined) {
    needle = key + NAME_VALUE_SEPARATOR;
    if (needles.size < NEEDLE_CACHE_MAX_KEYS) needles.set(key, needle);
  }
  return needle;
}

/**
 * Finds one property value without building a map: used on hot paths (dispatch) that need TAGS,
 * KEYS and UNIQ_KEY of every record.
 */
export function findProperty(text: string, key: string): string | undefined {
  const needle = needleFor(key);
  let from = 0;
  while (from < text.length) {
    const at = text.indexOf(needle, from);
    if (at < 0) return undefined;
    if (at === 0 || text.charCodeAt(at - 1) === 2) {
      const valueStart = at + key.length + 1;
      let end = text.indexOf(PROPERTY_SEPARATOR, valueStart);
      if (end < 0) end = text.length;
      return end > valueStart ? text.slice(valueStart, end) : undefined;
    }
    from = at + 1;
  }
  return undefined;
}
