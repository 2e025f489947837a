/** The composed note as plain text and as HTML (every value escaped). Pure. */

import { escapeHtml as esc } from '../../domain/index.js';

export interface Rendered {
  subject: string;
  /** Lines right under the subject, before any heading (the warnings). */
  lead: string[];
  blocks: { title: string; items: string[] }[];
  /** The full timeline, in place of the last events ('' for none). */
  link: string;
  marker: string;
}

export function renderText(note: Rendered): string {
  const list = (title: string, items: string[]) => ['', `${title}:`, ...items.map((i) => `- ${i}`)];
  return [
    note.subject,
    ...note.lead,
    ...note.blocks.flatMap((b) => list(b.title, b.items)),
    ...(note.link ? ['', `Full timeline: ${note.link}`] : []),
    '',
    note.marker,
  ].join('\n');
}

export function renderHtml(note: Rendered): string {
  const list = (title: string, items: string[]) =>
    `<p><strong>${esc(title)}</strong></p><ul>${items.map((i) => `<li>${esc(i)}</li>`).join('')}</ul>`;
  const link = note.link && esc(note.link);
  const safe = note.link && /^https?:\/\//i.test(note.link);
  return [
    `<p><strong>${esc(note.subject)}</strong></p>`,
    ...note.lead.map((line) => `<p>${esc(line)}</p>`),
    ...note.blocks.map((b) => list(b.title, b.items)),
    link ? `<p><strong>Full timeline:</strong> ${safe ? `<a href="${link}">${link}</a>` : link}</p>` : '',
    `<p>${esc(note.marker)}</p>`,
  ].join('');
}
