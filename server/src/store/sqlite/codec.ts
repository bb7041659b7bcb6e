/** Space-separated list column ↔ array. */
export const words = {
  parse: (value: string | null): string[] => (value ? value.split(' ').filter(Boolean) : []),
  format: (list: readonly string[]): string => list.join(' '),
};
