export * from './remoting-errors.js';
export * from './remoting-command.js';
export * from './lenient-json.js';
export {
  SerializeType,
  ROCKETMQ_HEADER_FIXED_BYTES,
  encodeJsonHeader,
  decodeJsonHeader,
  encodeRocketMqHeader,
  decodeRocketMqHeader,
  type SerializeTypeValue,
  type DecodedHeader,
} from './header-codec.js';
export * from './frame-codec.js';
export * from './processor-table.js';
export * from './remoting-connection.js';
export * from './remoting-server.js';
export * from './remoting-client.js';
