import { useEffect, useState } from 'preact/hooks';
import { html, nameOf, Tier } from '../html.js';

const OUTCOME = { delivered: 'delivered', refused: 'refused', rejected: 'rejected', info: 'notice' };

function Fields({ fields }) {
  if (!fields) return null;
  return html`<div class="fields">
    <span><span class="muted">saw</span> ${fields.seen.length ? fields.seen.join(', ') : 'no field'}</span>
    ${fields.withheld.length ? html`<span class="withheld"><span class="muted">withheld</span> ${fields.withheld.join(', ')}</span>` : null}
  </div>`;
}

function Row({ m, agencies, onPick, picked }) {
  const refused = m.outcome === 'refused' || m.outcome === 'rejected';
  return html`<li class=${`msg ${refused ? 'bad' : ''} ${picked ? 'picked' : ''}`} data-n=${m.n} data-type=${m.type} data-outcome=${m.outcome}>
    <button type="button" class="pick" aria-pressed=${picked ? 'true' : 'false'} onClick=${() => onPick(m.n)}>
      <span class="when">${m.sim}</span>
      <span class="who">${nameOf(agencies, m.from)} <span aria-hidden="true">→</span><span class="sr-only"> to </span> ${nameOf(agencies, m.to)}</span>
      <span class="what">${m.type}</span>
      <${Tier} tier=${m.tier} />
      <span class=${`outcome o-${m.outcome}`}>${OUTCOME[m.outcome]}</span>
    </button>
    ${refused && m.reason ? html`<p class="reason">${m.reason}</p>` : null}
    <${Fields} fields=${m.fields} />
  </li>`;
}

/** The audit ledger's account of the message: each copy stored, for whom, acknowledged by whom; refusals. */
function Ledger({ m, run }) {
  const [found, setFound] = useState(null);
  useEffect(() => setFound(null), [m.n]);
  if (!m.id) return null;
  if (!run.finished) return html`<p class="muted">The audit ledger's account is available once the scenario has finished.</p>`;
  const ask = async () => {
    const res = await fetch(`/api/explain?id=${encodeURIComponent(m.id)}&sender=${encodeURIComponent(m.from)}`);
    const body = await res.json();
    setFound(res.ok ? body : { error: body.message });
  };
  const a = run.agencies;
  return html`<div class="ledger">
    <button type="button" id="ask-ledger" onClick=${ask}>Explain from the audit ledger</button>
    ${found?.error ? html`<p class="error">${found.error}</p>` : null}
    ${Array.isArray(found) && found.length === 0 ? html`<p>The ledger holds no copy of this message (it was not stored by the exchange).</p>` : null}
    ${Array.isArray(found) ? found.map((x) => html`<div class="explained">
      ${x.copies.map((c) => html`<p><${Tier} tier=${c.tier} /> copy stored ${c.storedAt} for ${c.deliverTo.map((d) => nameOf(a, d)).join(', ') || 'nobody'}; acknowledged by ${c.acknowledged.map((d) => nameOf(a, d)).join(', ') || 'nobody yet'}</p>`)}
      ${x.refused.map((r) => html`<p class="loss">refused by ${nameOf(a, r.by)}: ${r.code} — ${r.reason}</p>`)}
    </div>`) : null}
  </div>`;
}

/** Everything known about one timeline line: its facts, the decision that sent it, the refusal's reason. */
function Explain({ m, run }) {
  if (!m) return html`<aside class="explain" aria-label="Explain"><p class="muted">Choose a message to explain it.</p></aside>`;
  const decision = run.decisions.find((d) => d.from === m.from && d.type === m.type && d.at === m.sim);
  const a = run.agencies;
  return html`<aside class="explain" aria-label="Explain" aria-live="polite">
    <h3>Explain: ${m.type}</h3>
    <dl>
      <dt>When</dt><dd>${m.sim} — ${m.step}</dd>
      <dt>From</dt><dd>${nameOf(a, m.from)}</dd>
      <dt>To</dt><dd>${nameOf(a, m.to)}</dd>
      <dt>Tier of the copy</dt><dd><${Tier} tier=${m.tier} /></dd>
      <dt>Outcome</dt><dd>${OUTCOME[m.outcome]}${m.detail ? ` — ${m.detail}` : ''}</dd>
      ${m.reason ? html`<dt>Why</dt><dd>${m.reason}</dd>` : null}
      ${m.fields ? html`<dt>Fields seen</dt><dd>${m.fields.seen.join(', ') || 'none'}</dd><dt>Fields withheld</dt><dd>${m.fields.withheld.join(', ') || 'none'}</dd>` : null}
      ${decision ? html`<dt>Policy decision</dt><dd>${decision.outcome === 'sent' ? decision.copies.map((c) => `${c.tier} copy to ${c.recipients.map((r) => nameOf(a, r)).join(', ')}`).join('; ') : decision.outcome}</dd>` : null}
      ${m.id ? html`<dt>Message id</dt><dd><code>${m.id}</code></dd>` : null}
    </dl>
    <${Ledger} m=${m} run=${run} />
  </aside>`;
}

/** Messages, live: sender → recipient, each copy's tier, refusals with their reason, fields seen and withheld; grouped by step. */
export function Messages({ run, picked, onPick }) {
  const groups = [];
  for (const m of run.messages) {
    if (!groups.length || groups.at(-1).step !== m.step) groups.push({ step: m.step, items: [] });
    groups.at(-1).items.push(m);
  }
  const chosen = run.messages.find((m) => m.n === picked && m.kind === 'message');
  return html`<section aria-labelledby="msg-h" class="split">
    <div>
      <h2 id="msg-h">Messages, live</h2>
      ${groups.length === 0 ? html`<p class="muted">No message yet.</p>` : null}
      ${groups.map((g) => html`<div class="group">
        <h3 class="step">${g.step}</h3>
        <ul class="messages">${g.items.map((m) => (m.kind === 'note' ? html`<li class="note" data-n=${m.n}>${m.text}</li>` : html`<${Row} m=${m} agencies=${run.agencies} onPick=${onPick} picked=${m.n === picked} />`))}</ul>
      </div>`)}
    </div>
    <${Explain} m=${chosen} run=${run} />
  </section>`;
}
