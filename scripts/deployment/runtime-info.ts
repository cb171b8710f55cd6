// A broker's GET_BROKER_RUNTIME_INFO table (what `mqadmin brokerStatus` prints): role, commit-log
// offsets. Used to report a slave's lag behind its master and to wait until it has caught up.
import { createRequest, RemotingClient, RequestCode } from './workspace.js';

export async function brokerRuntimeInfo(addr: string, timeoutMs = 3_000): Promise<Record<string, string>> {
  const client = new RemotingClient({ connectTimeoutMs: timeoutMs, requestTimeoutMs: timeoutMs });
  try {
    const res = await client.invoke(addr, createRequest(RequestCode.GET_BROKER_RUNTIME_INFO, {}), timeoutMs);
    if (res.code !== 0) throw new Error(`GET_BROKER_RUNTIME_INFO at ${addr}: code ${res.code} ${res.remark ?? ''}`);
    return (JSON.parse(res.body?.toString('utf8') ?? '{}') as { table?: Record<string, string> }).table ?? {};
  } finally {
    await client.close();
  }
}

/** The broker's commit-log max offset (bytes written), or undefined when it does not answer. */
export async function commitLogMaxOffset(addr: string, timeoutMs = 3_000): Promise<number | undefined> {
  try {
    const value = (await brokerRuntimeInfo(addr, timeoutMs)).commitLogMaxOffset;
    return value === undefined ? undefined : Number(value);
  } catch {
    return undefined;
  }
}
