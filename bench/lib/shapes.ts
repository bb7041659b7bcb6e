const ERROR_FIELD = /"error"\s*:\s*"([^"]{1,64})"/;

/** A response's shape for counting: the status, plus the RFC 6749 §5.2 `error` code if the body has one. */
export function responseShape(status: number, body: string): string {
  const match = status >= 400 ? ERROR_FIELD.exec(body) : null;
  return match ? `${status} ${match[1]}` : String(status);
}

/** Read one string field of a JSON body, or undefined. */
export function jsonField(body: string, field: string): string | undefined {
  try {
    const value = (JSON.parse(body) as Record<string, unknown>)[field];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

export function tally(counts: Record<string, number>, key: string, n = 1): void {
  counts[key] = (counts[key] ?? 0) + n;
}
