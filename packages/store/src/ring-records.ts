// Accessors for schema/ring-records.fbs, in flatc's generated style (flatc from Debian emits imports
// that NodeNext cannot resolve, so this small table is kept by hand).
import * as flatbuffers from 'flatbuffers';

export function encodeQueueRegistration(slot: number, topic: string, queueId: number): Uint8Array {
  const builder = new flatbuffers.Builder(64 + topic.length * 3);
  const topicOffset = builder.createString(topic);
  builder.startObject(3);
  builder.addFieldInt32(0, slot, 0);
  builder.addFieldOffset(1, topicOffset, 0);
  builder.addFieldInt32(2, queueId, 0);
  builder.finish(builder.endObject());
  return builder.asUint8Array();
}

export class QueueRegistration {
  private bb!: flatbuffers.ByteBuffer;
  private bbPos = 0;

  static fromBytes(bytes: Uint8Array): QueueRegistration {
    const bb = new flatbuffers.ByteBuffer(bytes);
    const reg = new QueueRegistration();
    reg.bb = bb;
    reg.bbPos = bb.readInt32(bb.position()) + bb.position();
    return reg;
  }

  slot(): number {
    const o = this.bb.__offset(this.bbPos, 4);
    return o ? this.bb.readInt32(this.bbPos + o) : 0;
  }

  topic(): string {
    const o = this.bb.__offset(this.bbPos, 6);
    return o ? (this.bb.__string(this.bbPos + o) as string) : '';
  }

  queueId(): number {
    const o = this.bb.__offset(this.bbPos, 8);
    return o ? this.bb.readInt32(this.bbPos + o) : 0;
  }
}
