import { html, nameOf, Tier } from '../html.js';
import { typesSeen } from '../state.js';

/** Who saw what: agency × type, each cell the tier of the copy the agency received. */
export function Matrix({ run, id = 'matrix', title = 'Who saw what', compare }) {
  const types = [...new Set([...typesSeen(run), ...(compare ? typesSeen(compare) : [])])].sort();
  const change = (a, t) => {
    if (!compare) return '';
    const x = compare.saw[a]?.[t];
    const y = run.saw[a]?.[t];
    if (x === y) return '';
    return !x ? 'gain' : !y ? 'loss' : 'moved';
  };
  return html`<div class="matrix-wrap">
    <table class="matrix" id=${id}>
      <caption>${title}</caption>
      <thead><tr><th scope="col">Agency</th>${types.map((t) => html`<th scope="col"><span class="vert">${t}</span></th>`)}</tr></thead>
      <tbody>${run.order.map((a) => html`<tr data-agency=${a}>
        <th scope="row">${nameOf(run.agencies, a)}</th>
        ${types.map((t) => {
          const c = change(a, t);
          return html`<td data-type=${t} data-tier=${run.saw[a]?.[t] ?? ''} class=${c}>${run.saw[a]?.[t] ? html`<${Tier} tier=${run.saw[a][t]} />` : html`<span class="muted" aria-label="nothing">—</span>`}${c ? html`<span class="sr-only"> (${c})</span>` : null}</td>`;
        })}
      </tr>`)}</tbody>
    </table>
  </div>`;
}
