/** Text for where lead data is shown: CRM fields that render HTML (HubSpot note and task bodies), Slack. Pure. */

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

/**
 * Slack mrkdwn escaping (the documented three: & < >), so a lead's name cannot become `<!channel>`,
 * a mention or a relabelled link.
 */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
