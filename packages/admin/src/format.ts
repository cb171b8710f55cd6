// How mqadmin writes values the way RocketMQ's tools do: timestamps (UtilAll.timeMillisToHumanString2,
// local time), client versions (MQVersion.getVersionDesc), TopicConfig's toString, and the
// "yyyy-MM-dd#HH:mm:ss:SSS" timestamps its commands accept.
import type { MessageExt } from '@orbit/client';
import { permToString, type TopicConfig } from '@orbit/common';

const pad = (n: number, width = 2) => String(n).padStart(width, '0');

/** "2025-09-19 17:25:40,123" in local time (UtilAll.timeMillisToHumanString2). */
export function humanTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())},${pad(d.getMilliseconds(), 3)}`;
}

/** "2025-09-19 17:25:40" in local time (UtilAll.YYYY_MM_DD_HH_MM_SS). */
export function humanTimeSeconds(ms: number): string {
  return humanTime(ms).slice(0, 19);
}

const TIMESTAMP_PATTERN = /^(\d{4})-(\d{2})-(\d{2})#(\d{2}):(\d{2}):(\d{2}):(\d{3})$/;

/**
 * A timestamp option: milliseconds since the epoch, "now", or local time written
 * yyyy-MM-dd#HH:mm:ss:SSS (UtilAll.YYYY_MM_DD_HH_MM_SS_SSS). Undefined when it is none of these.
 */
export function parseTimestamp(text: string, nowMs = Date.now()): number | undefined {
  const t = text.trim();
  if (t === 'now') return nowMs;
  if (/^\d{1,16}$/.test(t)) return Number(t);
  const m = TIMESTAMP_PATTERN.exec(t);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s, ms] = m.slice(1).map(Number) as [number, number, number, number, number, number, number];
  const date = new Date(y, mo - 1, d, h, mi, s, ms);
  if (date.getFullYear() !== y || date.getMonth() !== mo - 1 || date.getDate() !== d || h > 23 || mi > 59 || s > 59) return undefined;
  return date.getTime();
}

// MQVersion.Version: 16 early 3.0.0 entries, then a SNAPSHOT/release pair per version, minor by minor.
const EARLY_VERSIONS = [
  'V3_0_0_SNAPSHOT', 'V3_0_0_ALPHA1', 'V3_0_0_BETA1', 'V3_0_0_BETA2', 'V3_0_0_BETA3', 'V3_0_0_BETA4', 'V3_0_0_BETA5',
  'V3_0_0_BETA6_SNAPSHOT', 'V3_0_0_BETA6', 'V3_0_0_BETA7_SNAPSHOT', 'V3_0_0_BETA7', 'V3_0_0_BETA8_SNAPSHOT', 'V3_0_0_BETA8',
  'V3_0_0_BETA9_SNAPSHOT', 'V3_0_0_BETA9', 'V3_0_0_FINAL',
];

function releaseNames(): string[] {
  const out: string[] = [];
  const minor = (major: number, m: number, from: number, to: number) => {
    for (let z = from; z <= to; z++) out.push(`V${major}_${m}_${z}`);
  };
  minor(3, 0, 1, 15);
  minor(3, 1, 0, 9);
  minor(3, 2, 0, 9);
  for (let m = 3; m <= 9; m++) minor(3, m, 1, 9);
  for (let m = 0; m <= 9; m++) minor(4, m, 0, 9);
  for (let m = 0; m <= 9; m++) minor(5, m, 0, 9);
  return out;
}

const VERSION_NAMES: readonly string[] = [...EARLY_VERSIONS, ...releaseNames().flatMap((r) => [`${r}_SNAPSHOT`, r]), 'HIGHER_VERSION'];

/** MQVersion.getVersionDesc: 479 → "V5_3_3"; values past the table name the last entry. */
export function versionDesc(version: number): string {
  if (!Number.isInteger(version) || version < 0) return String(version);
  return VERSION_NAMES[Math.min(version, VERSION_NAMES.length - 1)]!;
}

/** A topic's config as brokers answer it (GET_ALL_TOPIC_CONFIG). */
export type TopicConfigView = TopicConfig;

/** TopicConfig.toString, as updateTopic prints it. */
export function topicConfigText(c: TopicConfigView): string {
  const attrs = Object.entries(c.attributes).map(([k, v]) => `${k}=${v}`).join(', ');
  return `TopicConfig [topicName=${c.topicName}, readQueueNums=${c.readQueueNums}, writeQueueNums=${c.writeQueueNums}, perm=${permToString(c.perm)}, topicFilterType=${c.topicFilterType}, topicSysFlag=${c.topicSysFlag}, order=${c.order}, attributes={${attrs}}]`;
}

/** Java's Map.toString for string maps: {a=1, b=2}. */
export function javaMapText(map: Record<string, unknown>): string {
  return `{${Object.entries(map).map(([k, v]) => `${k}=${String(v)}`).join(', ')}}`;
}

/** A message as --json prints it: every header field, the body as UTF-8 text. */
export function messageJson(msg: MessageExt): Record<string, unknown> {
  return {
    msgId: msg.msgId,
    offsetMsgId: msg.offsetMsgId,
    topic: msg.topic,
    brokerName: msg.brokerName,
    queueId: msg.queueId,
    queueOffset: msg.queueOffset,
    commitLogOffset: msg.commitLogOffset,
    tags: msg.tags ?? null,
    keys: msg.keys ?? null,
    reconsumeTimes: msg.reconsumeTimes,
    bornTimestamp: msg.bornTimestamp,
    storeTimestamp: msg.storeTimestamp,
    bornHost: msg.bornHost,
    storeHost: msg.storeHost,
    sysFlag: msg.sysFlag,
    flag: msg.flag,
    storeSize: msg.storeSize,
    bodyCRC: msg.bodyCRC,
    properties: msg.properties,
    body: msg.bodyCompressed ? null : msg.body.toString('utf8'),
    bodyCompressed: msg.bodyCompressed,
  };
}

/** One message on one line, as consumeMessage prints it (PrintMessageByQueueCommand.printMessage). */
export function messageLine(msg: MessageExt): string {
  const body = msg.bodyCompressed ? '<compressed body>' : msg.body.toString('utf8');
  return (
    `MSGID: ${msg.msgId} MessageExt [brokerName=${msg.brokerName}, queueId=${msg.queueId}, queueOffset=${msg.queueOffset}, ` +
    `storeSize=${msg.storeSize}, sysFlag=${msg.sysFlag}, bornTimestamp=${msg.bornTimestamp}, bornHost=${msg.bornHost}, ` +
    `storeTimestamp=${msg.storeTimestamp}, storeHost=${msg.storeHost}, offsetMsgId=${msg.offsetMsgId}, commitLogOffset=${msg.commitLogOffset}, ` +
    `reconsumeTimes=${msg.reconsumeTimes}, topic=${msg.topic}, tags=${msg.tags ?? ''}, keys=${msg.keys ?? ''}, properties=${javaMapText(msg.properties)}] BODY: ${body}`
  );
}
