/** Reading a page form's fields (the body urlencoded by the browser). */
import type { Request } from 'express';

/** One form value: a string, or undefined when absent, empty or repeated. */
export function formValue(req: Request, name: string): string | undefined {
  const value = (req.body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Every value of a repeatable form field (checkboxes), or undefined when one is not a string. */
export function formList(req: Request, name: string): string[] | undefined {
  const value = (req.body as Record<string, unknown> | undefined)?.[name];
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return list.every((v): v is string => typeof v === 'string') ? list : undefined;
}
