// Who is connected (ProducerManager + ConsumerManager): filled by HEART_BEAT, emptied by
// UNREGISTER_CLIENT, by a closed connection, or after channelExpiredTimeout of silence. When a
// consumer group's membership changes, every member is told with NOTIFY_CONSUMER_IDS_CHANGED so it
// rebalances at once (facts §2.6).
import type { RemotingConnection } from '@orbit/remoting';

export interface SubscriptionData {
  topic: string;
  subString: string;
  tagsSet: string[];
  codeSet: number[];
  subVersion: number;
  expressionType: string;
}

export interface ClientChannel {
  clientId: string;
  conn: RemotingConnection;
  language: string;
  version: number;
  lastUpdateMs: number;
}

export interface ConsumerGroupInfo {
  groupName: string;
  consumeType: string;
  messageModel: string;
  consumeFromWhere: string;
  channels: Map<string, ClientChannel>;
  subscriptions: Map<string, SubscriptionData>;
  lastUpdateMs: number;
}

export class ClientManager {
  readonly consumers = new Map<string, ConsumerGroupInfo>();
  readonly producers = new Map<string, Map<string, ClientChannel>>();

  constructor(private readonly onConsumerIdsChanged: (group: string, channels: ClientChannel[]) => void) {}

  registerProducer(group: string, channel: ClientChannel): void {
    let g = this.producers.get(group);
    if (!g) this.producers.set(group, (g = new Map()));
    g.set(channel.clientId, channel);
  }

  /** Returns true when the group's membership changed. */
  registerConsumer(
    group: string,
    info: { consumeType: string; messageModel: string; consumeFromWhere: string; subscriptions: SubscriptionData[] },
    channel: ClientChannel,
  ): boolean {
    let g = this.consumers.get(group);
    if (!g) {
      g = { groupName: group, consumeType: info.consumeType, messageModel: info.messageModel, consumeFromWhere: info.consumeFromWhere, channels: new Map(), subscriptions: new Map(), lastUpdateMs: Date.now() };
      this.consumers.set(group, g);
    }
    g.consumeType = info.consumeType;
    g.messageModel = info.messageModel;
    g.consumeFromWhere = info.consumeFromWhere;
    g.lastUpdateMs = Date.now();
    const previous = g.channels.get(channel.clientId);
    const isNew = !previous || previous.conn !== channel.conn;
    g.channels.set(channel.clientId, channel);
    // The latest heartbeat's subscriptions win, as in RocketMQ's updateSubscription.
    for (const s of info.subscriptions) {
      const old = g.subscriptions.get(s.topic);
      if (!old || old.subVersion <= s.subVersion) g.subscriptions.set(s.topic, s);
    }
    if (isNew) this.onConsumerIdsChanged(group, [...g.channels.values()]);
    return isNew;
  }

  unregister(clientId: string, producerGroup: string | undefined, consumerGroup: string | undefined): void {
    if (producerGroup) this.producers.get(producerGroup)?.delete(clientId);
    if (consumerGroup) this.removeConsumer(consumerGroup, clientId);
  }

  private removeConsumer(group: string, clientId: string): void {
    const g = this.consumers.get(group);
    if (!g || !g.channels.delete(clientId)) return;
    if (g.channels.size === 0) this.consumers.delete(group);
    else this.onConsumerIdsChanged(group, [...g.channels.values()]);
  }

  /** Drops every registration made over a connection that closed. */
  onConnectionClosed(conn: RemotingConnection): void {
    for (const g of this.producers.values()) for (const [id, ch] of g) if (ch.conn === conn) g.delete(id);
    for (const [group, g] of [...this.consumers]) for (const [id, ch] of [...g.channels]) if (ch.conn === conn) this.removeConsumer(group, id);
  }

  /** Drops clients silent for longer than timeoutMs; returns how many. */
  scanExpired(nowMs: number, timeoutMs: number): number {
    let dropped = 0;
    for (const g of this.producers.values()) {
      for (const [id, ch] of g) {
        if (nowMs - ch.lastUpdateMs > timeoutMs) {
          g.delete(id);
          ch.conn.close();
          dropped++;
        }
      }
    }
    for (const [group, g] of [...this.consumers]) {
      for (const [id, ch] of [...g.channels]) {
        if (nowMs - ch.lastUpdateMs > timeoutMs) {
          this.removeConsumer(group, id);
          ch.conn.close();
          dropped++;
        }
      }
    }
    return dropped;
  }

  consumerIds(group: string): string[] {
    return [...(this.consumers.get(group)?.channels.keys() ?? [])];
  }

  subscription(group: string, topic: string): SubscriptionData | undefined {
    return this.consumers.get(group)?.subscriptions.get(topic);
  }
}
