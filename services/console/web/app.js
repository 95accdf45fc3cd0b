import { render } from 'preact';
import { useEffect, useReducer, useRef, useState } from 'preact/hooks';
import { html } from './html.js';
import { fold, initialState } from './state.js';
import { Audit } from './views/audit.js';
import { Cases } from './views/cases.js';
import { Centre } from './views/centre.js';
import { Controls } from './views/controls.js';
import { Federation } from './views/federation.js';
import { Matrix } from './views/matrix.js';
import { Messages } from './views/messages.js';
import { WhatIf } from './views/whatif.js';

const VIEWS = [
  ['federation', 'Federation'],
  ['messages', 'Messages'],
  ['matrix', 'Who saw what'],
  ['cases', 'Cases'],
  ['centre', 'Centre'],
  ['audit', 'Audit'],
  ['whatif', 'What-if'],
];

function reducer(state, action) {
  if (action.type === 'connected') return { ...state, connected: action.value };
  return fold(state, action.env);
}

/** The live event stream: every envelope folded into the state; reconnects by itself. */
function useEvents() {
  const [state, dispatch] = useReducer(reducer, undefined, initialState);
  useEffect(() => {
    const es = new EventSource('/events');
    es.onopen = () => dispatch({ type: 'connected', value: true });
    es.onerror = () => dispatch({ type: 'connected', value: false });
    es.onmessage = (m) => dispatch({ type: 'event', env: JSON.parse(m.data) });
    return () => es.close();
  }, []);
  return state;
}

/** Tabs with the WAI-ARIA keyboard pattern: arrows, Home and End move between views. */
function Tabs({ view, setView }) {
  const refs = useRef({});
  const move = (ev) => {
    const i = VIEWS.findIndex(([id]) => id === view);
    const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: VIEWS.length - 1 }[ev.key];
    if (to === undefined) return;
    ev.preventDefault();
    const next = VIEWS[(to + VIEWS.length) % VIEWS.length][0];
    setView(next);
    refs.current[next]?.focus();
  };
  return html`<div role="tablist" aria-label="Views" class="tabs" onKeyDown=${move}>
    ${VIEWS.map(([id, label]) => html`<button type="button" role="tab" id=${`tab-${id}`} aria-controls=${`panel-${id}`} aria-selected=${view === id ? 'true' : 'false'} tabindex=${view === id ? 0 : -1} ref=${(el) => (refs.current[id] = el)} onClick=${() => setView(id)}>${label}</button>`)}
  </div>`;
}

function Status({ state }) {
  const run = state.runs.main;
  const failed = run.expectations.failed.length;
  return html`<p class="status" role="status">
    ${state.connected ? '' : 'Connecting… '}
    ${run.failed ? html`<span class="fail">The run failed: ${run.failed}</span>` : run.finished ? html`<span class=${failed ? 'fail' : 'ok'}>${failed ? `${failed} expectation(s) failed` : 'Finished: all expectations held.'}</span>` : html`<span>Now: ${run.step || 'starting the federation…'}</span>`}
    ${' '}<span class="muted">${run.expectations.held} expectation(s) held so far.</span>
  </p>`;
}

function Panel({ state, view, picked, setPicked }) {
  const run = state.runs.main;
  switch (view) {
    case 'federation':
      return html`<${Federation} run=${run} />`;
    case 'messages':
      return html`<${Messages} run=${run} picked=${picked} onPick=${setPicked} />`;
    case 'matrix':
      return html`<section aria-labelledby="matrix-h"><h2 id="matrix-h">Who saw what</h2><p>The tier of the copy each agency received of each type (— nothing). It fills in as copies arrive.</p><${Matrix} run=${run} title="Agency × message type" /></section>`;
    case 'cases':
      return html`<${Cases} run=${run} />`;
    case 'centre':
      return html`<${Centre} run=${run} />`;
    case 'audit':
      return html`<${Audit} run=${run} />`;
    default:
      return html`<${WhatIf} state=${state} />`;
  }
}

function App() {
  const state = useEvents();
  const [view, setView] = useState(location.hash.slice(1) || 'messages');
  const [picked, setPicked] = useState(0);
  useEffect(() => {
    history.replaceState(null, '', `#${view}`);
  }, [view]);
  const run = state.runs.main;
  return html`<header>
      <h1>${run.title || 'Liaison console'}</h1>
      <${Controls} playback=${state.playback} />
      <${Status} state=${state} />
    </header>
    <nav aria-label="Views"><${Tabs} view=${view} setView=${setView} /></nav>
    <main id=${`panel-${view}`} role="tabpanel" aria-labelledby=${`tab-${view}`} tabindex="0">
      <${Panel} state=${state} view=${view} picked=${picked} setPicked=${setPicked} />
    </main>
    <footer><p class="muted">Metadata only: agencies, types, tiers and field names — never message bodies (values shown are the simulator's synthetic data).</p></footer>`;
}

render(html`<${App} />`, document.getElementById('root'));
