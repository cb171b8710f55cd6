// Loads tsx's TypeScript hooks (resolved from this file, so the caller's directory does not
// matter; the same as `node --import tsx`), then runs the NameServer's entry point.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
