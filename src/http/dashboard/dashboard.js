// The admin dashboard: plain DOM, no framework, no external requests. Data is only ever set with
// textContent, never parsed as HTML.
const base = location.pathname.replace(/\/$/, '');
const SVG = 'http://www.w3.org/2000/svg';

async function api(path, init = {}) {
  const res = await fetch(`${base}/api/${path}`, {
    ...init,
    // The session cookie goes along (same origin); the header shows a change comes from this page.
    headers: { 'x-leadflow-dashboard': '1', ...(init.headers ?? {}) },
  });
  if (res.status === 401) {
    location.assign(`${base}/login`);
    throw new Error('signed out');
  }
  if (!res.ok && res.status !== 404) throw new Error(`${path}: HTTP ${res.status}`);
  return res.status === 204 ? null : res.json();
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function utc(ms) {
  return ms ? new Date(ms).toISOString().slice(0, 19).replace('T', ' ') : '';
}

function duration(ms) {
  if (ms === null || ms === undefined) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60000).toFixed(1)} min`;
}

function bars(container, items) {
  const width = 600;
  const height = 180;
  const max = Math.max(1, ...items.map((i) => i.value));
  const slot = width / items.length;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  items.forEach((item, i) => {
    const h = Math.round(((height - 40) * item.value) / max);
    const x = i * slot + slot * 0.15;
    const rect = document.createElementNS(SVG, 'rect');
    rect.setAttribute('x', String(x));
    rect.setAttribute('y', String(height - 20 - h));
    rect.setAttribute('width', String(slot * 0.7));
    rect.setAttribute('height', String(Math.max(h, 1)));
    rect.setAttribute('rx', '3');
    const label = document.createElementNS(SVG, 'text');
    label.setAttribute('x', String(i * slot + slot / 2));
    label.setAttribute('y', String(height - 4));
    label.setAttribute('text-anchor', 'middle');
    label.textContent = item.label;
    const value = document.createElementNS(SVG, 'text');
    value.setAttribute('x', String(i * slot + slot / 2));
    value.setAttribute('y', String(height - 26 - h));
    value.setAttribute('text-anchor', 'middle');
    value.setAttribute('class', 'value');
    value.textContent = String(item.value);
    svg.append(rect, label, value);
  });
  container.replaceChildren(svg);
}

function percent(value) {
  return value === null || value === undefined ? '—' : `${value}%`;
}

/** A link to the lead's CRM record, opened apart from the dashboard; only ever http(s). */
function crmLink(url) {
  const a = el('a', 'CRM ↗', 'crm');
  a.href = url;
  a.target = '_blank';
  a.rel = 'noopener noreferrer';
  return a;
}

/** Opens the lead's page in this dashboard. */
function leadLink(key, text) {
  const a = el('a', text, 'who');
  a.href = `#lead=${encodeURIComponent(key)}`;
  return a;
}

function section(title, ...children) {
  const box = el('div', null, 'panel');
  box.append(el('h3', title), ...children);
  return box;
}

function list(items, empty) {
  const ul = el('ul');
  if (!items.length) ul.append(el('li', empty, 'muted'));
  for (const item of items) ul.append(typeof item === 'string' ? el('li', item) : item);
  return ul;
}

function slaText(sla) {
  if (!sla) return 'No task, so no SLA clock.';
  const breaches = sla.breaches ? ` · ${sla.breaches} SLA round${sla.breaches > 1 ? 's' : ''} lapsed` : '';
  if (sla.state === 'acted')
    return `Acted: ${sla.actedWhat ?? 'first action'} at ${utc(sla.actedAt)} UTC${breaches}`;
  if (sla.state === 'breached') return `Breached: due ${utc(sla.dueAt)} UTC, nobody has acted${breaches}`;
  if (sla.state === 'overdue') return `Overdue by ${duration(-sla.remainingMs)} (due ${utc(sla.dueAt)} UTC)`;
  return `Running: ${duration(sla.remainingMs)} left (due ${utc(sla.dueAt)} UTC)`;
}

function renderLead(story) {
  document.getElementById('lead-title').textContent = story.name ?? story.lead;
  const who = el(
    'p',
    [story.title, story.company, story.email, story.lead].filter(Boolean).join(' · '),
    'muted',
  );
  if (story.recordUrl) who.append(' ', crmLink(story.recordUrl));
  const score = el(
    'p',
    `Score ${story.score ?? '—'} (fit ${story.fit ?? '—'}, engagement ${story.engagement ?? '—'}) · ${story.stage.toUpperCase()} · ${story.status}`,
  );
  const breakdown = list(
    story.breakdown.map((l) => `${l.points > 0 ? '+' : ''}${l.points} ${l.reason} (${l.kind}, ${l.ruleId})`),
    'No rule matches this lead.',
  );
  const events = list(
    story.events.map((e) => `${utc(e.occurredAt)} · ${e.type} · ${e.source}`),
    'No events on the timeline.',
  );
  const h = story.handoff;
  const handoff = h
    ? list(
        [
          `${h.stage.toUpperCase()} by ${h.trigger.replace('_', '-')} at ${utc(h.decidedAt)} UTC`,
          `Owner: ${h.ownerName ?? 'unassigned'}`,
          `Rule: ${h.rule ?? 'none'} (${h.strategy ?? '—'})${h.reason ? ` — ${h.reason}` : ''}`,
          ...h.passedOver.map((p) => `Passed over ${p.rep} in ${p.rule}: ${p.why}`),
          ...(h.guardrail ? [`Guardrails: ${h.guardrail}`] : []),
          `SLA: ${slaText(h.sla)}`,
        ],
        '',
      )
    : el('p', 'Not handed off.', 'muted');
  const d = story.disposition;
  const disposition = el(
    'p',
    d ? `${d.status ?? '—'} · reason ${d.reason ?? '(none)'} · ${d.action}` : 'Sales has not sent it back.',
    d ? '' : 'muted',
  );
  const audit = list(
    story.audit.map((e) => `${utc(e.at)} · ${e.type.replaceAll('_', ' ')}`),
    'No audit entries.',
  );
  document.getElementById('lead-body').replaceChildren(who, score, el('div', null, 'panels'));
  document
    .querySelector('#lead-body .panels')
    .append(
      section('Score breakdown', breakdown),
      section('Events', events),
      section('Handoff and routing', handoff),
      section('Disposition', disposition),
      section('Audit log', audit),
    );
}

async function showLead() {
  const match = /^#lead=(.+)$/.exec(location.hash);
  const box = document.getElementById('lead');
  if (!match) {
    box.hidden = true;
    return;
  }
  const key = decodeURIComponent(match[1]);
  const story = await api(`leads/${encodeURIComponent(key)}`);
  if (story.error) {
    document.getElementById('lead-title').textContent = key;
    document.getElementById('lead-body').replaceChildren(el('p', story.error, 'muted'));
  } else renderLead(story);
  box.hidden = false;
  box.scrollIntoView();
}

async function search(event) {
  event.preventDefault();
  const q = document.getElementById('q').value;
  const found = await api(`leads?q=${encodeURIComponent(q)}`);
  const items = found.map((l) => {
    const li = el('li');
    li.append(
      leadLink(l.lead, l.name ?? l.lead),
      el('span', ` ${[l.company, l.email].filter(Boolean).join(' · ')} · score ${l.score ?? '—'}`, 'muted'),
    );
    return li;
  });
  document
    .getElementById('results')
    .replaceChildren(...(items.length ? items : [el('li', 'No lead matches.', 'muted')]));
}

/** Each cell is labelled with its column's header, for the stacked rows at phone width. */
function labelCells(table) {
  const headers = [...table.querySelectorAll('thead th')].map((th) => th.textContent.trim());
  for (const row of table.querySelectorAll('tbody tr'))
    [...row.children].forEach((cell, i) => {
      if (headers[i] && !cell.classList.contains('empty')) cell.dataset.label = headers[i];
    });
}

function renderHeadline(h) {
  const figures = [
    ['Handoffs today', h.handoffsToday, ''],
    ['Median speed to lead', duration(h.medianSpeedToLeadMs), ''],
    ['SLA met', percent(h.slaMetPct), h.slaMetPct !== null && h.slaMetPct < 90 ? 'bad' : ''],
    ['Open SLA breaches', h.openBreaches, h.openBreaches > 0 ? 'bad' : ''],
  ];
  document.getElementById('headline').replaceChildren(
    ...figures.map(([label, value, tone]) => {
      const card = el('div', null, 'card figure');
      card.append(el('p', label, 'label'), el('p', value, `value ${tone}`));
      return card;
    }),
  );
}

function renderQueues(queues) {
  const cards = Object.entries(queues).map(([name, counts]) => {
    const card = el('div', null, 'card');
    card.append(el('h3', name));
    const dl = el('dl');
    for (const key of ['waiting', 'active', 'delayed', 'failed', 'completed']) {
      dl.append(el('dt', key), el('dd', counts[key] ?? 0, key === 'failed' && counts[key] > 0 ? 'bad' : ''));
    }
    card.append(dl);
    return card;
  });
  document.getElementById('queues').replaceChildren(...cards);
}

function renderHandoffs(handoffs) {
  rows(
    '#handoffs',
    handoffs.map((h) => {
      const row = el('tr');
      const reasons = el('ul');
      for (const r of h.topReasons) reasons.append(el('li', r));
      const reasonsCell = el('td');
      reasonsCell.append(reasons);
      const trigger = el('td');
      trigger.append(el('span', h.trigger.replace('_', '-'), `pill ${h.trigger}`));
      const lead = el('td');
      lead.append(leadLink(h.lead, h.name ?? h.lead));
      if (h.recordUrl) lead.append(' ', crmLink(h.recordUrl));
      row.append(
        el('td', utc(h.at)),
        lead,
        el('td', h.company ?? '—'),
        el('td', h.stage.toUpperCase()),
        trigger,
        el('td', h.score ?? '—', 'num'),
        el('td', h.ownerName ?? 'unassigned'),
        reasonsCell,
        el('td', duration(h.speedToLeadMs), 'num'),
      );
      return row;
    }),
    9,
    'No handoffs yet.',
  );
}

function rows(selector, items, columns, empty) {
  const body = document.querySelector(`${selector} tbody`);
  if (!items.length) {
    const row = el('tr');
    const cell = el('td', empty, 'empty');
    cell.colSpan = columns;
    row.append(cell);
    body.replaceChildren(row);
    return;
  }
  body.replaceChildren(...items);
}

function renderReport(report) {
  rows(
    '#sla-reps',
    report.slaPerRep.map((r) => {
      const row = el('tr');
      row.append(
        el('td', r.owner),
        el('td', r.handoffs, 'num'),
        el('td', r.acted, 'num'),
        el('td', r.breaches, r.breaches ? 'num bad' : 'num'),
        el('td', percent(r.compliancePct), 'num'),
        el('td', r.medianFirstActionMin === null ? '—' : `${r.medianFirstActionMin} min`, 'num'),
      );
      return row;
    }),
    6,
    'No handoffs in the last 7 days.',
  );
  rows(
    '#fairness',
    report.perRep.map((r) => {
      const row = el('tr');
      const share = el('td', null, 'num');
      const meter = el('meter');
      meter.min = 0;
      meter.max = 100;
      meter.value = r.actualPct;
      meter.setAttribute('aria-hidden', 'true');
      share.append(meter, ` ${r.actualPct}%`);
      const diff = r.diffPts === null ? '—' : `${r.diffPts > 0 ? '+' : ''}${r.diffPts} pts`;
      row.append(
        el('td', r.owner),
        el('td', r.handoffs, 'num'),
        share,
        el('td', percent(r.expectedPct), 'num'),
        el('td', diff, r.diffPts !== null && Math.abs(r.diffPts) >= 10 ? 'num bad' : 'num'),
      );
      return row;
    }),
    5,
    'No reps configured.',
  );
}

/** Replays or deletes one dead letter and says what happened. */
async function act(letter, verb) {
  const path = `dead-letters/${encodeURIComponent(letter.queue)}/${encodeURIComponent(letter.id)}`;
  const feedback = document.getElementById('dlq-feedback');
  const what = `${letter.queue} job ${letter.id}`;
  try {
    const result =
      verb === 'replay'
        ? await api(`${path}/replay`, { method: 'POST' })
        : await api(path, { method: 'DELETE' });
    feedback.className = result.error ? 'feedback bad' : 'feedback';
    feedback.textContent = result.error
      ? `${what}: ${result.error}`
      : verb === 'replay'
        ? `Replayed ${what}: it is queued again.`
        : `Deleted ${what}.`;
  } catch (err) {
    feedback.className = 'feedback bad';
    feedback.textContent = `${what}: ${err.message}`;
  }
  await refresh();
}

function renderDeadLetters(letters) {
  rows(
    '#dead-letters',
    letters.map((l) => {
      const row = el('tr');
      row.dataset.job = `${l.queue}/${l.id}`;
      const action = el('td', null, 'actions');
      for (const [verb, label] of [
        ['replay', 'Replay'],
        ['delete', 'Delete'],
      ]) {
        const button = el('button', label, verb === 'delete' ? 'danger' : '');
        button.type = 'button';
        button.setAttribute('aria-label', `${label} ${l.queue} job ${l.id}`);
        button.addEventListener('click', () => {
          if (verb === 'delete' && !window.confirm(`Delete ${l.queue} job ${l.id} for good?`)) return;
          button.disabled = true;
          act(l, verb).catch(() => undefined);
        });
        action.append(button);
      }
      const details = el('details');
      details.append(
        el('summary', `${l.name} · ${l.attemptsMade} attempt${l.attemptsMade === 1 ? '' : 's'}`),
        el('pre', JSON.stringify(l.data, null, 2)),
      );
      const detailCell = el('td');
      detailCell.append(details);
      row.append(
        el('td', utc(l.failedAt)),
        el('td', l.queue),
        el('td', l.id),
        el('td', l.failedReason),
        detailCell,
        action,
      );
      return row;
    }),
    6,
    'No dead letters.',
  );
}

async function refresh() {
  const [overview, letters, report] = await Promise.all([
    api('overview'),
    api('dead-letters'),
    api('report?days=7'),
  ]);
  renderReport(report);
  renderHeadline(overview.headline);
  renderQueues(overview.queues);
  renderHandoffs(overview.handoffs);
  renderDeadLetters(letters);
  for (const table of document.querySelectorAll('main table')) labelCells(table);
  const s = overview.speedToLead;
  document.getElementById('speed-summary').textContent = s.samples
    ? `median ${duration(s.p50)} · p95 ${duration(s.p95)} · last ${s.samples} handoffs`
    : 'No completed handoffs yet';
  bars(
    document.getElementById('speed-chart'),
    s.buckets.map((b) => ({ label: b.label, value: b.count })),
  );
  bars(
    document.getElementById('score-chart'),
    overview.scoreDistribution.map((b) => ({ label: b.band, value: b.leads })),
  );
  document.getElementById('updated').textContent = `· updated ${utc(Date.now())} UTC`;
  document.body.dataset.ready = 'true';
}

document.getElementById('search').addEventListener('submit', (event) => {
  search(event).catch((err) => {
    document.getElementById('results').replaceChildren(el('li', err.message, 'bad'));
  });
});
document.getElementById('lead-close').addEventListener('click', (event) => {
  event.preventDefault();
  history.pushState(null, '', location.pathname);
  document.getElementById('lead').hidden = true;
});
window.addEventListener('hashchange', () => showLead().catch(() => undefined));
showLead().catch(() => undefined);

refresh().catch((err) => {
  document.getElementById('updated').textContent = `· ${err.message}`;
});
setInterval(() => refresh().catch(() => undefined), 5000);
