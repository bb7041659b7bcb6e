import en from '../messages/en.json' with { type: 'json' };
import de from '../messages/de.json' with { type: 'json' };

/** The languages the pages ship in. English is the fallback. */
export const LOCALES = ['en', 'de'] as const;
export type Locale = (typeof LOCALES)[number];
export type MessageKey = keyof typeof en.messages;

interface Catalogue {
  messages: Partial<Record<MessageKey, string>>;
  scopes: Record<string, { description: string; permissions: string[] } | undefined>;
}

const CATALOGUES: Record<Locale, Catalogue> = { en, de };

/**
 * The best shipped language for an `Accept-Language` header (RFC 9110 §12.5.4):
 * highest q first, a region (`de-AT`) matching its language, English otherwise.
 */
export function chooseLocale(acceptLanguage: string | undefined): Locale {
  if (!acceptLanguage) return 'en';
  const ranges = acceptLanguage
    .slice(0, 512)
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)).find(Boolean);
      return { tag: tag.trim().toLowerCase(), q: q ? Number(q[1]) : 1, index };
    })
    .filter((r) => r.tag !== '' && r.q > 0 && !Number.isNaN(r.q))
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const { tag } of ranges) {
    const language = tag.split('-')[0];
    const match = LOCALES.find((l) => l === language);
    if (match) return match;
  }
  return 'en';
}

/** Text of one language: messages with `{name}` parameters, scope texts, dates and durations. */
export interface Translator {
  readonly locale: Locale;
  t(key: MessageKey, params?: Record<string, string | number>): string;
  /** The scope's description and permissions in this language, or the catalogue's own text. */
  scope(scope: { name: string; description: string; permissions: readonly string[] }): { description: string; permissions: readonly string[] };
  /** "25 Nov 2026, 16:05 UTC". The server does not know the phone's time zone, so UTC is said. */
  dateTime(ms: number): string;
  /** "3 minutes ago", "in 9 minutes". */
  relative(ms: number, now: number): string;
  /** A wait such as "2 minutes" or "45 seconds", rounded up. */
  duration(ms: number): string;
}

export function translator(locale: Locale): Translator {
  const catalogue = CATALOGUES[locale];
  const dateFormat = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });
  const relativeFormat = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  return {
    locale,
    t(key, params = {}) {
      const text = catalogue.messages[key] ?? en.messages[key];
      return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
    },
    scope(scope) {
      return catalogue.scopes[scope.name] ?? { description: scope.description, permissions: scope.permissions };
    },
    dateTime(ms) {
      return `${dateFormat.format(ms)} UTC`;
    },
    relative(ms, now) {
      const seconds = Math.round((ms - now) / 1000);
      if (Math.abs(seconds) < 45) return catalogue.messages['time.justNow'] ?? en.messages['time.justNow'];
      const minutes = Math.round(seconds / 60);
      if (Math.abs(minutes) < 60) return relativeFormat.format(minutes, 'minute');
      const hours = Math.round(minutes / 60);
      if (Math.abs(hours) < 48) return relativeFormat.format(hours, 'hour');
      return relativeFormat.format(Math.round(hours / 24), 'day');
    },
    duration(ms) {
      const seconds = Math.max(1, Math.ceil(ms / 1000));
      const unit = (value: number, u: 'second' | 'minute' | 'hour') =>
        new Intl.NumberFormat(locale, { style: 'unit', unit: u, unitDisplay: 'long' }).format(value);
      if (seconds < 60) return unit(seconds, 'second');
      if (seconds < 3600) return unit(Math.ceil(seconds / 60), 'minute');
      return unit(Math.ceil(seconds / 3600), 'hour');
    },
  };
}
