import { useEffect, useRef } from 'preact/hooks';
import cytoscape from 'cytoscape';
import { html, nameOf } from '../html.js';

/** The links the centre's alerts make between agencies' records, and whether each still stands. */
function links(run) {
  const out = new Map();
  for (const al of run.alerts) {
    for (const x of al.agencies) {
      for (const y of al.agencies) {
        if (x >= y) continue;
        // An agency's alert withdrawn (its record no longer part of the link): its edges of that link are withdrawn too.
        const retracted = run.retractions.some((r) => r.reference === al.reference && !r.corrected && (r.to === x || r.to === y));
        const key = `${al.reference}|${x}|${y}`;
        out.set(key, { id: key, source: x, target: y, label: `${al.matchedKind}${al.matchedValue ? ` ${al.matchedValue}` : ''}`, retracted });
      }
    }
  }
  return [...out.values()];
}

function Graph({ run }) {
  const ref = useRef(null);
  const edges = links(run);
  const nodes = [...new Set(edges.flatMap((e) => [e.source, e.target]))];
  const key = JSON.stringify([nodes, edges.map((e) => [e.id, e.retracted])]);
  useEffect(() => {
    if (!ref.current || nodes.length === 0) return undefined;
    const cy = cytoscape({
      container: ref.current,
      elements: [...nodes.map((id) => ({ data: { id, label: nameOf(run.agencies, id) } })), ...edges.map((e) => ({ data: e, classes: e.retracted ? 'retracted' : '' }))],
      style: [
        { selector: 'node', style: { label: 'data(label)', 'text-wrap': 'wrap', 'text-max-width': 120, 'font-size': 11, 'background-color': '#1f4e8c', color: '#111' } },
        { selector: 'edge', style: { label: 'data(label)', 'font-size': 9, width: 2, 'line-color': '#6b7a8f', 'curve-style': 'bezier', 'text-background-color': '#fff', 'text-background-opacity': 1 } },
        { selector: 'edge.retracted', style: { 'line-style': 'dashed', 'line-color': '#b3261e' } },
      ],
      layout: { name: 'circle' },
      userZoomingEnabled: false,
    });
    return () => cy.destroy();
  }, [key]);
  return html`<div class="graph" ref=${ref} role="img" aria-label=${`Links between agencies: ${edges.map((e) => `${nameOf(run.agencies, e.source)} and ${nameOf(run.agencies, e.target)} on ${e.label}${e.retracted ? ' (withdrawn)' : ''}`).join('; ') || 'none yet'}`}></div>`;
}

/** The multiagency centre: links between agencies' records as a graph, alerts and their retractions. */
export function Centre({ run }) {
  const a = run.agencies;
  return html`<section aria-labelledby="centre-h">
    <h2 id="centre-h">The multiagency centre</h2>
    <${Graph} run=${run} />
    <h3>Alerts</h3>
    ${run.alerts.length === 0 ? html`<p class="muted">No alert yet.</p>` : html`<table class="alerts">
      <thead><tr><th scope="col">When</th><th scope="col">Told</th><th scope="col">Link on</th><th scope="col">Between</th><th scope="col">Tier</th></tr></thead>
      <tbody>${run.alerts.map((al) => html`<tr><td>${al.sim}</td><td>${nameOf(a, al.to)}</td><td>${al.matchedKind} ${al.matchedValue ?? '(value withheld at this tier)'}</td><td>${al.agencies.map((x) => nameOf(a, x)).join(', ')}</td><td>${al.tier}</td></tr>`)}</tbody>
    </table>`}
    <h3>Retractions and corrections</h3>
    ${run.retractions.length === 0 ? html`<p class="muted">None.</p>` : html`<ul>${run.retractions.map((r) => html`<li>${r.sim}: ${nameOf(a, r.to)}'s alert ${r.reference} ${r.corrected ? 'corrected' : 'withdrawn'}</li>`)}</ul>`}
  </section>`;
}
