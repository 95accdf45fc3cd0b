import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startConsole, type RunningConsole } from '../services/console/server.ts';
import { DEFAULT_SCENARIO } from '../services/simulator/demo.ts';
import { loadScenario } from '../services/simulator/scenario.ts';
import { chromiumPath } from './support/browser.ts';
import { ROOT, runBin, startBin } from './support/liaison-bin.ts';

// The console's HTTP face without a browser and without a run: nothing here connects to /events or
// plays, so no federation is started.
describe('liaison console: the HTTP face (page, modules, refusals of bad requests)', () => {
  let ui: RunningConsole;
  beforeAll(async () => {
    ui = await startConsole({ scenario: await loadScenario(DEFAULT_SCENARIO), paused: true });
  });
  afterAll(async () => ui?.stop());

  it('listens on 127.0.0.1 only and serves the page with a CSP admitting only its own import map', async () => {
    expect(new URL(ui.url).hostname).toBe('127.0.0.1');
    const res = await fetch(ui.url);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/script-src 'self' 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toContain('unsafe-inline\'; script');
    const html = await res.text();
    expect(html).toContain('<script type="importmap">');
    for (const m of ['preact.mjs', 'preact-hooks.mjs', 'htm.mjs', 'cytoscape.mjs']) {
      const r = await fetch(new URL(`/vendor/${m}`, ui.url));
      expect(r.status, m).toBe(200);
      expect(r.headers.get('content-type')).toContain('javascript');
    }
  });

  it('serves only the named modules: nothing else under node_modules, no path out of the page directory', async () => {
    expect((await fetch(new URL('/vendor/..%2F..%2Fpackage.json', ui.url))).status).toBe(404);
    expect((await fetch(new URL('/vendor/jose.mjs', ui.url))).status).toBe(404);
    expect((await fetch(new URL('/web/..%2F..%2F..%2Fpackage.json', ui.url))).status).toBe(404);
  });

  it('refuses a bad playback action and an invalid draft policy with a typed error and a clear message (400)', async () => {
    const bad = await fetch(new URL('/api/playback', ui.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ action: 'rewind' }) });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ code: 'ERR_USAGE', message: expect.stringContaining('expected action play, pause, step') });
    const speed = await fetch(new URL('/api/playback', ui.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ action: 'speed', speed: 3 }) });
    expect(speed.status).toBe(400);
    const draft = await fetch(new URL('/api/whatif', ui.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ policy: 'version: 1\nname: x\nroles: {}\nagencies: { a: { nme: A } }\n', file: 'bad.yaml' }) });
    expect(draft.status).toBe(400);
    const body = (await draft.json()) as { code: string; message: string };
    expect(body.code).toBe('ERR_POLICY_INVALID');
    expect(body.message).toContain('bad.yaml');
    const empty = await fetch(new URL('/api/whatif', ui.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { code: string }).code).toBe('ERR_USAGE');
    // The explanation needs a finished run and a message id.
    const explain = await fetch(new URL('/api/explain?id=nope', ui.url));
    expect(explain.status).toBe(400);
    // None of these started the scenario.
    expect(ui.session.started()).toBe(false);
  });
});

describe('liaison console (the command)', () => {
  it('prints its URL, serves the page, and stops cleanly on Ctrl-C', async () => {
    const p = startBin(['console', '--port', '0', '--paused']);
    try {
      await p.waitFor(/Liaison console: http:\/\/127\.0\.0\.1:\d+\//, 60_000);
      const url = /http:\/\/127\.0\.0\.1:\d+\//.exec(p.out())![0];
      expect((await fetch(url)).status).toBe(200);
      p.child.kill('SIGINT');
      const done = await p.done;
      expect(done.code).toBe(0);
      expect(done.out).toContain('stopping the console');
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  }, 90_000);
});

describe('scripts/ensure-chromium.mjs (npm test and CI: the browser the console tests drive)', () => {
  const script = join(ROOT, 'scripts/ensure-chromium.mjs');

  it('is quiet and succeeds when the Chromium named is there', async () => {
    const r = await runBin([], { LIAISON_CHROMIUM: chromiumPath() }, script);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
  });

  it('never second-guesses LIAISON_CHROMIUM: a name that is no executable is an error naming it', async () => {
    const r = await runBin([], { LIAISON_CHROMIUM: '/nonexistent/chromium' }, script);
    expect(r.code).toBe(1);
    expect(r.err).toContain('LIAISON_CHROMIUM=/nonexistent/chromium names no executable file');
  });
});
