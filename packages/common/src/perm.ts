// PermName: topic and broker permission bits (facts §3.1).
export const Perm = { PRIORITY: 8, READ: 4, WRITE: 2, INHERIT: 1 } as const;

export const isReadable = (perm: number): boolean => (perm & Perm.READ) === Perm.READ;
export const isWriteable = (perm: number): boolean => (perm & Perm.WRITE) === Perm.WRITE;
export const isInherited = (perm: number): boolean => (perm & Perm.INHERIT) === Perm.INHERIT;

export function permToString(perm: number): string {
  return `${isReadable(perm) ? 'R' : '-'}${isWriteable(perm) ? 'W' : '-'}${isInherited(perm) ? 'X' : '-'}`;
}
