// Every mqadmin command, in the order `mqadmin help` lists them.
import type { CommandSpec } from '../cli.js';
import { brokerStatus, clusterList, getBrokerConfig, updateBrokerConfig } from './broker.js';
import { consumerConnection, consumerProgress, resetOffsetByTime } from './consumer.js';
import { consumeMessage, queryMsgById, queryMsgByKey, queryMsgByOffset, sendMessage } from './message.js';
import { deleteSubGroup, updateSubGroup } from './subscription.js';
import { deleteTopic, topicList, topicRoute, topicStatus, updateTopic } from './topic.js';

export const COMMANDS: readonly CommandSpec<any>[] = [
  updateTopic,
  deleteTopic,
  topicList,
  topicRoute,
  topicStatus,
  clusterList,
  brokerStatus,
  updateSubGroup,
  deleteSubGroup,
  consumerProgress,
  consumerConnection,
  queryMsgById,
  queryMsgByKey,
  queryMsgByOffset,
  sendMessage,
  consumeMessage,
  resetOffsetByTime,
  getBrokerConfig,
  updateBrokerConfig,
];
