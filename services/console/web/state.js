// Folds the server's events into what the views show. Pure functions: (state, envelope) → state.

/** An empty run. */
export function emptyRun() {
  return { started: false, finished: false, failed: '', title: '', scenario: '', description: '', policy: null, agencies: {}, order: [], step: '', messages: [], saw: {}, refusals: {}, decisions: [], cases: {}, caseOrder: [], alerts: [], retractions: [], audit: [], expectations: { held: 0, failed: [] }, comparison: null };
}

/** The console's initial state. */
export function initialState() {
  return { connected: false, playback: null, whatif: null, runs: { main: emptyRun(), draft: emptyRun() }, last: 0 };
}

function foldRun(r, env) {
  const e = env.e;
  switch (e.kind) {
    case 'run-started':
      return { ...emptyRun(), started: true, title: e.title, scenario: e.scenario, description: e.description ?? '', policy: e.policy, step: e.title };
    case 'agency-connected':
      return { ...r, agencies: { ...r.agencies, [e.id]: { ...e, connected: true } }, order: [...r.order, e.id] };
    case 'agency-disconnected':
      return r.agencies[e.id] ? { ...r, agencies: { ...r.agencies, [e.id]: { ...r.agencies[e.id], connected: false, reason: e.reason } } } : r;
    case 'step':
      return { ...r, step: e.title };
    case 'message':
      return { ...r, messages: [...r.messages, { ...e, n: env.n, at: env.at }] };
    case 'note':
      return { ...r, messages: [...r.messages, { ...e, n: env.n, at: env.at }] };
    case 'received':
      return { ...r, saw: { ...r.saw, [e.agency]: { ...r.saw[e.agency], [e.type]: e.tier } } };
    case 'refusal':
      return { ...r, refusals: { ...r.refusals, [e.code]: { count: (r.refusals[e.code]?.count ?? 0) + 1, reason: e.reason } } };
    case 'decision':
      return { ...r, decisions: [...r.decisions, e] };
    case 'case': {
      const prev = r.cases[e.case.ref];
      const history = [...(prev?.history ?? []), { sim: e.sim, step: e.step, from: e.from, to: e.case.state }];
      return { ...r, cases: { ...r.cases, [e.case.ref]: { ...e.case, history } }, caseOrder: prev ? r.caseOrder : [...r.caseOrder, e.case.ref] };
    }
    case 'cases': {
      const cases = { ...r.cases };
      for (const c of e.cases) cases[c.ref] = { ...c, history: cases[c.ref]?.history ?? [] };
      return { ...r, cases, caseOrder: [...new Set([...r.caseOrder, ...e.cases.map((c) => c.ref)])] };
    }
    case 'centre-alert':
      return { ...r, alerts: [...r.alerts, e] };
    case 'centre-retraction':
      return { ...r, retractions: [...r.retractions, e] };
    case 'audit':
      return { ...r, audit: [...r.audit, e] };
    case 'expectation':
      return { ...r, expectations: e.ok ? { ...r.expectations, held: r.expectations.held + 1 } : { ...r.expectations, failed: [...r.expectations.failed, e] } };
    case 'run-finished': {
      const agencies = Object.fromEntries(Object.entries(r.agencies).map(([k, a]) => [k, { ...a, connected: false, reason: a.reason ?? 'run ended' }]));
      return { ...r, finished: true, agencies };
    }
    case 'run-failed':
      return { ...r, failed: e.message };
    case 'comparison':
      return { ...r, comparison: e };
    default:
      return r;
  }
}

/** Fold one envelope ({n, run, at, e}) into the state. */
export function fold(state, env) {
  if (env.n <= state.last) return state;
  const s = { ...state, last: env.n };
  if (env.e.kind === 'playback') return { ...s, playback: env.e.state };
  if (env.e.kind === 'whatif') return { ...s, whatif: env.e.whatif };
  return { ...s, runs: { ...s.runs, [env.run]: foldRun(s.runs[env.run], env) } };
}

/** The types any agency saw in a run, sorted. */
export function typesSeen(run) {
  return [...new Set(Object.values(run.saw).flatMap((m) => Object.keys(m)))].sort();
}
