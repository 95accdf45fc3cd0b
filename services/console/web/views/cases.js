import { html, nameOf } from '../html.js';

/** Cases: each workflow's state, the parties, the history of its states, running deadlines. */
export function Cases({ run }) {
  const a = run.agencies;
  return html`<section aria-labelledby="cases-h">
    <h2 id="cases-h">Cases</h2>
    ${run.caseOrder.length === 0 ? html`<p class="muted">No case opened yet.</p>` : null}
    <div class="cards">${run.caseOrder.map((ref) => {
      const c = run.cases[ref];
      return html`<article class="card" data-case=${ref} data-state=${c.state}>
        <h3>${c.workflow}${c.kind ? html` <span class="muted">(${c.kind})</span>` : null}</h3>
        <p><span class="state">${c.state}</span> · ${nameOf(a, c.requester)} <span aria-hidden="true">→</span><span class="sr-only"> to </span> ${nameOf(a, c.requested)}</p>
        ${c.history.length ? html`<ol class="history">${c.history.map((x) => html`<li><span class="when">${x.sim}</span> ${x.from || 'opened'} <span aria-hidden="true">→</span><span class="sr-only"> to </span> ${x.to}</li>`)}</ol>` : null}
        ${c.items?.length ? html`<p>Parties and seats: ${c.items.map((i) => `${nameOf(a, i.agency)} ${i.state}`).join('; ')}</p>` : null}
        ${c.deadlines?.length ? html`<p class="deadline">Awaited: ${c.deadlines.map((d) => `${d.awaited} from ${nameOf(a, d.party)} by ${d.due}`).join('; ')}</p>` : null}
        <p class="muted"><small>${ref}</small></p>
      </article>`;
    })}</div>
  </section>`;
}
