import { html } from '../html.js';

const SERVICE = { registry: 'runs the ¶16 document registry', cases: 'runs the case registry (¶13–15)', centre: 'runs the multiagency centre (¶17)' };

/** The federation: states, agencies by name, roles, who is connected. */
export function Federation({ run }) {
  const byCountry = new Map();
  for (const id of run.order) {
    const a = run.agencies[id];
    if (!byCountry.has(a.country)) byCountry.set(a.country, []);
    byCountry.get(a.country).push(a);
  }
  return html`<section aria-labelledby="fed-h">
    <h2 id="fed-h">The federation</h2>
    ${run.policy ? html`<p>Policy <strong>${run.policy.name}</strong> · ${run.order.length} agencies in ${byCountry.size} states.</p>` : html`<p>Starting the federation…</p>`}
    ${[...byCountry].map(([country, list]) => html`<div class="state">
      <h3>State ${country}</h3>
      <table class="agencies">
        <caption class="sr-only">Agencies of ${country}</caption>
        <thead><tr><th scope="col">Agency</th><th scope="col">Roles</th><th scope="col">Service</th><th scope="col">Connection</th></tr></thead>
        <tbody>${list.map((a) => html`<tr data-agency=${a.id}>
          <th scope="row">${a.name}<br/><small class="muted">${a.id}</small></th>
          <td>${a.roles.join(', ')}</td>
          <td>${a.service ? SERVICE[a.service] : '—'}</td>
          <td><span class=${a.connected ? 'conn on' : 'conn off'}>${a.connected ? '● connected' : `○ ${a.reason ?? 'disconnected'}`}</span></td>
        </tr>`)}</tbody>
      </table>
    </div>`)}
  </section>`;
}
