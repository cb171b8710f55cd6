// One stored record (facts §4.1) as a broker would put it in a pull body, for client tests.
import { encodeStoredRecord, planRecord, type MessageToStore } from '@orbit/common/message-record';
import { encodeProperties } from '@orbit/common/properties';
import { parseSocketAddress } from '@orbit/common/socket-address';

export function storedRecord(over: Partial<MessageToStore> = {}, queueOffset = 42, physicalOffset = 123456): Buffer {
  const msg: MessageToStore = {
    topic: 'TopicTest',
    queueId: 3,
    flag: 5,
    sysFlag: 0,
    bornTimestamp: 1700000000123,
    bornHost: parseSocketAddress('10.1.2.3:54321'),
    storeHost: parseSocketAddress('10.9.8.7:10911'),
    reconsumeTimes: 2,
    preparedTransactionOffset: 0,
    body: Buffer.from('hello'),
    properties: encodeProperties({ UNIQ_KEY: '0A0102030000000000000000000000AB', TAGS: 'TagA', KEYS: 'k1 k2', CLUSTER: 'c' }),
    ...over,
  };
  const plan = planRecord(msg);
  const buf = Buffer.alloc(plan.sizeBytes);
  encodeStoredRecord(buf, 0, msg, plan, { queueOffset, physicalOffset, storeTimestamp: 1700000000999, bodyCrc: 99 });
  return buf;
}
