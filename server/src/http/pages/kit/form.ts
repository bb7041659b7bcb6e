/** Reading a page form's fields (the body urlencoded by the browser). */
import type { Request } from 'express';

/** One form value: a string, or undefined when absent, empty or repeated. */
export function formValue(req: Request, name: string): string | undefined {
  const value = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
