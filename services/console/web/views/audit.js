import { html } from '../html.js';

/** The audit ledger: its chain head and signed checkpoints as the run goes, and entries by kind. */
export function Audit({ run }) {
  const last = run.audit.at(-1);
  const v = last?.verified;
  return html`<section aria-labelledby="audit-h">
    <h2 id="audit-h">The audit ledger</h2>
    ${v ? html`<p id="audit-verified" class=${v.ok ? 'verdict ok' : 'verdict fail'} role="status">${v.ok ? `Ledger intact: ${v.entries} entries verified with the audit key, ${v.checkpoints} signed checkpoint(s), ${v.uncovered} after the last.` : `Ledger TAMPERED: ${v.problems.join('; ')}`}</p>` : null}
    ${last ? html`<p id="audit-status">Chain of <strong>${last.head}</strong> entries, hash-linked; <strong>${last.checkpoints}</strong> signed checkpoint(s). To explain a message, choose it under Messages.</p>
      <table class="audit">
        <caption>Entries by kind (${last.sim})</caption>
        <thead><tr><th scope="col">Kind</th><th scope="col">Entries</th></tr></thead>
        <tbody>${Object.entries(last.entries).map(([k, v]) => html`<tr><th scope="row">${k}</th><td>${v}</td></tr>`)}</tbody>
      </table>
      <h3>After each step</h3>
      <ol class="history">${run.audit.filter((x, i, all) => i === all.length - 1 || all[i + 1].step !== x.step).map((x) => html`<li><span class="when">${x.sim}</span> ${x.step}: head ${x.head}</li>`)}</ol>` : html`<p class="muted">The ledger's state appears after the first step.</p>`}
  </section>`;
}
