// What a slave knows of its master, learnt from the NameServers' REGISTER_BROKER answers (facts §3.2,
// §6.1): the master's remoting address, for SlaveSynchronize, and the master's HA address, handed to
// the store so that its HA client connects there (unless haMasterAddress is configured: then the
// store connects to that by itself and the NameServer's answer is not used for HA).
//
// Registration repeats every registerNameServerPeriod, so a master that went away and came back
// (perhaps on another HA port) is found again at the next registration after it registered.
import type { MessageStore } from '@orbit/store';
import type { RegisterResult } from '../namesrv-registration.js';
import type { SlaveSynchronize } from './slave-synchronize.js';

export class MasterLink {
  /** The HA address last handed to the store. */
  haServerAddr: string | undefined;
  lastError: string | undefined;

  constructor(
    private readonly store: MessageStore,
    private readonly sync: SlaveSynchronize,
    /** haMasterAddress from the config; non-empty means "do not take it from the NameServer". */
    private readonly configuredHaMasterAddress: string,
  ) {}

  get masterAddr(): string | undefined {
    return this.sync.master;
  }

  /** Called with each round of registrations. */
  onRegistered(results: RegisterResult[]): void {
    // One NameServer that knows the master is enough; NameServers that answered without a master
    // (it is down, or has not registered yet) mean "no master now". No answer at all changes nothing.
    const answered = results.filter((r) => r.ok);
    if (answered.length === 0) return;
    const withMaster = answered.find((r) => r.masterAddr);
    this.sync.setMasterAddr(withMaster?.masterAddr);
    const ha = withMaster?.haServerAddr;
    if (this.configuredHaMasterAddress || !ha) return;
    // Handed over again while the connection is down, so a store whose client gave up tries anew.
    if (ha === this.haServerAddr && this.store.haStatus().masterConnected) return;
    this.haServerAddr = ha;
    this.store.setHaMasterAddress(ha).then(
      () => (this.lastError = undefined),
      (err: Error) => (this.lastError = `setHaMasterAddress(${ha}) failed: ${err.message}`),
    );
  }
}
