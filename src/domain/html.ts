/** Text for CRM fields that render HTML (HubSpot note and task bodies). Pure. */

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Plain text (a rep task body) as HTML: every character escaped, each line break kept as `<br>`. */
export function textToHtml(text: string): string {
  return text.split('\n').map(escapeHtml).join('<br>');
}
