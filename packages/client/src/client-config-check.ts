// Before a consumer with SQL92 subscriptions starts pulling, every master broker of each such topic
// is asked with CHECK_CLIENT_CONFIG whether it can serve the expression (MQClientInstance.
// checkClientInBroker): a broker without enablePropertyFilter, or an expression that does not
// compile, fails start() at once with the broker's code and remark instead of failing every pull.
import { errorText } from './async-util.js';
import { MQBrokerError, MQClientError } from './errors.js';
import type { MQClientInstance } from './mq-client-instance.js';
import type { SubscriptionData } from './subscription.js';
import { MASTER_ID } from './topic-route.js';

/**
 * Resolves when every master of every non-TAG subscription's topic accepts it; a topic with no route
 * yet, and a broker that does not answer, are skipped (logged). Throws MQClientError (responseCode = the broker's code, the
 * remark in the message, the MQBrokerError as cause) when a broker refuses.
 */
export async function checkClientConfigInBrokers(instance: MQClientInstance, group: string, subscriptions: Iterable<SubscriptionData>): Promise<void> {
  for (const sub of subscriptions) {
    if (sub.expressionType === 'TAG') continue;
    const route = (await instance.updateTopicRoute(sub.topic).catch(() => undefined)) ?? instance.getTopicRoute(sub.topic);
    if (route === undefined) continue;
    for (const broker of route.brokerDatas) {
      const addr = broker.brokerAddrs[String(MASTER_ID)];
      if (addr === undefined) continue;
      try {
        await instance.api.checkClientInBroker(addr, group, instance.clientId, sub);
      } catch (error) {
        if (error instanceof MQBrokerError) {
          throw new MQClientError(
            `Check client in broker error, the broker[${broker.brokerName}, ${addr}] refused the ${sub.expressionType} subscription of group ${group} to ${sub.topic}: CODE ${error.code} ${error.remark}`,
            error.code,
            { cause: error },
          );
        }
        // Unreachable is not a refusal: the pulls will tell, and one broker down must not stop a start.
        instance.logger.warn(`CHECK_CLIENT_CONFIG at ${addr} for ${sub.topic} failed: ${errorText(error)}`);
      }
    }
  }
}

/** checkClientConfigInBrokers for a starting consumer: on failure the consumer leaves the instance before the error is rethrown. */
export async function checkClientConfigOrLeave(instance: MQClientInstance, group: string, subscriptions: Iterable<SubscriptionData>): Promise<void> {
  try {
    await checkClientConfigInBrokers(instance, group, subscriptions);
  } catch (error) {
    await instance.unregisterConsumer(group).catch(() => {});
    throw error;
  }
}
