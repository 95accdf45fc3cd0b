import { useState } from 'preact/hooks';
import { html } from '../html.js';
import { Matrix } from './matrix.js';

function AgencyChanges({ a }) {
  return html`<article class="card" data-agency=${a.agency}>
    <h4>${a.name}${a.added ? ' (new in the draft)' : a.removed ? ' (gone from the draft)' : ''}</h4>
    ${a.rolesAdded.length || a.rolesRemoved.length ? html`<p>Roles: ${a.rolesAdded.map((r) => html`<span class="gain">+ ${r} </span>`)}${a.rolesRemoved.map((r) => html`<span class="loss">− ${r} </span>`)}</p>` : null}
    ${a.receive.length ? html`<table class="changes">
      <thead><tr><th scope="col">Type</th><th scope="col">Scope</th><th scope="col">Before</th><th scope="col">After</th><th scope="col">Fields gained</th><th scope="col">Fields lost</th></tr></thead>
      <tbody>${a.receive.map((c) => html`<tr data-type=${c.type} data-scope=${c.scope} data-before=${c.before} data-after=${c.after}>
        <th scope="row">${c.type}</th><td>${c.scope}</td><td>${c.before}</td><td>${c.after}</td>
        <td class=${c.gained.length ? 'gain' : ''}>${c.gained.join(', ') || '—'}</td>
        <td class=${c.lost.length ? 'loss' : ''}>${c.lost.join(', ') || '—'}</td>
      </tr>`)}</tbody>
    </table>` : null}
    ${a.rights.length ? html`<ul>${a.rights.map((r) => html`<li class=${r.startsWith('may now') ? 'gain' : 'loss'}>${r}</li>`)}</ul>` : null}
  </article>`;
}

/** Load a draft policy (a file or pasted YAML) and send it for comparison. */
function DraftForm() {
  const [text, setText] = useState('');
  const [file, setFile] = useState('draft.yaml');
  const [error, setError] = useState('');
  const submit = async (ev) => {
    ev.preventDefault();
    setError('');
    const res = await fetch('/api/whatif', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ policy: text, file }) });
    if (!res.ok) setError((await res.json()).message);
  };
  const pick = async (ev) => {
    const f = ev.currentTarget.files?.[0];
    if (!f) return;
    setFile(f.name);
    setText(await f.text());
  };
  return html`<form class="draft" onSubmit=${submit}>
    <label for="draft-file">Draft policy file</label>
    <input id="draft-file" type="file" accept=".yaml,.yml" onChange=${pick} />
    <label for="draft-text">or paste the draft policy (YAML)</label>
    <textarea id="draft-text" rows="6" value=${text} onInput=${(ev) => setText(ev.currentTarget.value)}></textarea>
    <button type="submit" disabled=${text.trim() === ''}>Compare with the scenario's policy</button>
    ${error ? html`<p class="error" role="alert">${error}</p>` : null}
  </form>`;
}

/** A line of the comparison with agency ids replaced by their names. */
function named(line, agencies) {
  return line.replace(/\b[a-z]{2,4}-[a-z0-9-]+\b/g, (id) => agencies[id]?.name ?? id);
}

/** Policy what-if: per agency what a draft gains and loses, then the scenario replayed under both, side by side. */
export function WhatIf({ state }) {
  const w = state.whatif;
  const cmp = state.runs.draft.comparison;
  return html`<section aria-labelledby="whatif-h">
    <h2 id="whatif-h">Policy what-if</h2>
    <${DraftForm} />
    ${w ? html`<div id="whatif-result">
      ${cmp ? html`<p class=${`verdict ${cmp.ok ? 'ok' : 'fail'}`} role="status">${named(cmp.verdict, state.runs.main.agencies)}</p>` : html`<p role="status">${w.status === 'replaying' ? 'Replaying the scenario under the draft…' : w.status === 'failed' ? `The replay failed: ${w.error ?? ''}` : 'The scenario will be replayed under the draft when the current run ends.'}</p>`}
      <h3>What each agency gains and loses (${w.base.file} → ${w.draft.file})</h3>
      ${w.same ? html`<p>The two policies grant exactly the same access.</p>` : null}
      <div class="cards wide" id="whatif-agencies">${w.agencies.map((a) => html`<${AgencyChanges} a=${a} />`)}</div>
      ${cmp ? html`<h3>The scenario under both</h3>
        ${cmp.diff.length ? html`<ul class="diff">${cmp.diff.map((d) => html`<li>${named(d, state.runs.main.agencies)}</li>`)}</ul>` : null}
        <div class="side">
          <${Matrix} run=${state.runs.main} id="matrix-base" title=${`Under ${w.base.file}`} />
          <${Matrix} run=${state.runs.draft} id="matrix-draft" title=${`Under ${w.draft.file} (green: gained, red: lost)`} compare=${state.runs.main} />
        </div>` : null}
    </div>` : null}
  </section>`;
}
