/** Email domains: which are mailbox providers rather than companies. Pure. */

/**
 * Mailbox providers anyone can sign up with. An entry matches the domain and its subdomains; a
 * trailing `.*` stands for any country or top-level part (`yahoo.*`: yahoo.com, yahoo.co.uk).
 */
export const FREE_EMAIL_DOMAINS: readonly string[] = [
  'gmail.com',
  'googlemail.com',
  'yahoo.*',
  'hotmail.*',
  'outlook.*',
  'live.*',
  'icloud.com',
  'me.com',
  'aol.com',
  'proton.me',
  'protonmail.com',
  'gmx.*',
  'web.de',
  'mail.ru',
  'yandex.*',
  'qq.com',
  '163.com',
];

/** The lower-case domain of an email address; null for anything that is not one. */
export function domainOf(email: unknown): string | null {
  if (typeof email !== 'string') return null;
  const match = /^[^@\s]+@([a-z0-9-]+(\.[a-z0-9-]+)+)$/i.exec(email.trim());
  return match?.[1]?.toLowerCase() ?? null;
}

/** The first entry of `list` the domain falls under (see FREE_EMAIL_DOMAINS for the forms), or null. */
export function domainListed(domain: string, list: readonly string[]): string | null {
  const d = domain.toLowerCase();
  return (
    list.find((entry) => {
      const e = entry.toLowerCase();
      if (e.endsWith('.*')) return new RegExp(`^(.+\\.)?${escapeRegex(e.slice(0, -2))}\\.[a-z.]+$`).test(d);
      return d === e || d.endsWith(`.${e}`);
    }) ?? null
  );
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
