/// <reference lib="dom" />
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../services/cli/main.ts';
import { startConsole, type RunningConsole } from '../services/console/server.ts';
import { ERROR_CODES } from '../services/sdk/errors.ts';
import type { PolicyDiff } from '../services/sdk/policy/diff.ts';
import { compareRuns } from '../services/simulator/compare.ts';
import { renderReport } from '../services/simulator/report.ts';
import type { ScenarioResult } from '../services/simulator/runner.ts';
import { loadScenario } from '../services/simulator/scenario.ts';
import { ARTIFACTS, launchBrowser, screenshot } from './support/browser.ts';
import { EXAMPLE_POLICY } from './support/federation.ts';

const SCENARIO = (policy: string) => `
version: 1
name: console-small
title: A small scenario for the console
policy: ${policy}
timeline:
  - at: 0m
    title: the coast guard shares vessel intelligence
    send: { from: xa-coast-guard, type: IntelligenceReport, to: all, tlp: AMBER }
    body: { summary: Vessel sighted, vessel: { name: STELLA MARIS II, imoNumber: IMO9123456 } }
    expect: { tiers: { mac-centre: operational } }
  - at: 1h
    title: the border police refers a migrant to the NGO
    send: { from: xa-border-police, type: CaseReferral, to: xa-ngo-harbour, name: ref }
    body: { kind: REFERRAL_KIND_PROTECTION, summary: needs shelter, consentRecorded: true, criminalIntelligence: named the organiser }
    expect: { withheld: { xa-ngo-harbour: [criminalIntelligence] }, caseState: referred }
  - at: 2h
    title: the NGO may not send intelligence
    send: { from: xa-ngo-harbour, type: IntelligenceReport, to: all }
    body: { summary: Rumours. }
    expect: { refused: ERR_POLICY_SEND_DENIED }
  - send: { from: xa-ngo-harbour, type: ReferralDecision, to: xa-border-police }
    body: { referralId: "\${ref}", decision: REFERRAL_DECISION_KIND_ACCEPTED }
    expect: { caseState: accepted }
`;

const VIEWS = ['federation', 'messages', 'matrix', 'cases', 'centre', 'audit', 'whatif'] as const;

/** Where browser-side time is recorded for each row as it is added to the page (ms since the epoch). */
const OBSERVE_ROWS = () => {
  const w = window as unknown as { seenAt: Record<string, number> };
  w.seenAt = {};
  new MutationObserver(() => {
    for (const el of document.querySelectorAll('[data-n]')) {
      const n = el.getAttribute('data-n')!;
      w.seenAt[n] ??= Date.now();
    }
  }).observe(document.body, { childList: true, subtree: true });
};

describe('liaison console: the scenario live in a real browser (Debian chromium via playwright-core)', () => {
  let dir: string;
  let strict: string;
  let ui: RunningConsole;
  let browser: Browser;
  let page: Page;
  let agencies: string[];

  const tab = async (view: (typeof VIEWS)[number]) => {
    await page.click(`#tab-${view}`);
    await page.waitForSelector(`#panel-${view}`);
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'liaison-console-test-'));
    await writeFile(join(dir, 'small.yaml'), SCENARIO(EXAMPLE_POLICY));
    // A stricter draft: the multiagency centre no longer receives intelligence broadcasts.
    const policy = await readFile(EXAMPLE_POLICY, 'utf8');
    strict = policy.replace('      - types: [DocumentReport, DocumentStatusChange, PersonAlert, IntelligenceReport]', '      - types: [DocumentReport, DocumentStatusChange, PersonAlert]');
    expect(strict).not.toBe(policy);
    await writeFile(join(dir, 'strict.yaml'), strict);
    agencies = [...policy.matchAll(/^ {2}([a-z0-9-]+): \{ name: /gm)].map((m) => m[1]!);
    expect(agencies.length).toBeGreaterThan(5);
    ui = await startConsole({ scenario: await loadScenario(join(dir, 'small.yaml')), paused: true, stepMs: 20 });
    browser = await launchBrowser();
    // A context of our own: axe-core opens a page in the same context for its checks.
    page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await ui?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it('the page loads, names the scenario, and shows the federation: agencies by name, their roles, connected', async () => {
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(ui.url);
    await page.waitForSelector('h1:text("A small scenario for the console")', { timeout: 120_000 });
    await tab('federation');
    // The run starts when the page connects; every agency of the policy is enrolled and connected.
    await page.waitForFunction((n) => document.querySelectorAll('tr[data-agency] .conn.on').length === n, agencies.length, { timeout: 240_000 });
    const ngo = page.locator('tr[data-agency="xa-ngo-harbour"]');
    await expect(ngo.locator('th').textContent()).resolves.toContain('Harbour Lights Protection Network');
    await expect(ngo.locator('td').first().textContent()).resolves.toBe('ngo');
    expect(errors).toEqual([]);
    await screenshot(page, 'console-federation');
  }, 300_000);

  it('a live event appears in the page within 1 s of being sent (presenter steps one event)', async () => {
    await tab('messages');
    await page.evaluate(OBSERVE_ROWS);
    const first = new Promise<{ n: number; at: number }>((resolve) => {
      const off = ui.hub.listen((env) => {
        if (env.e.kind === 'message') {
          off();
          resolve({ n: env.n, at: env.at });
        }
      });
    });
    await page.click('#step');
    const sent = await first;
    await page.waitForSelector(`li[data-n="${sent.n}"]`, { timeout: 10_000 });
    const seenAt = await page.evaluate((n) => (window as unknown as { seenAt: Record<string, number> }).seenAt[String(n)], sent.n);
    expect(seenAt).toBeGreaterThan(0);
    expect(seenAt! - sent.at).toBeLessThan(1_000);
    await expect(page.locator(`li[data-n="${sent.n}"] .what`).textContent()).resolves.toBe('IntelligenceReport');
  }, 120_000);

  it('is keyboard navigable: arrows, Home and End move between views; Enter on a message explains it; full screen for a presenter', async () => {
    await page.focus('#tab-messages');
    await page.keyboard.press('ArrowRight');
    await expect(page.locator('#tab-matrix').getAttribute('aria-selected')).resolves.toBe('true');
    await expect(page.evaluate(() => document.activeElement?.id)).resolves.toBe('tab-matrix');
    await page.waitForSelector('#panel-matrix table.matrix');
    await page.keyboard.press('End');
    await expect(page.evaluate(() => document.activeElement?.id)).resolves.toBe('tab-whatif');
    await page.waitForSelector('#panel-whatif textarea');
    await page.keyboard.press('Home');
    await expect(page.evaluate(() => document.activeElement?.id)).resolves.toBe('tab-federation');
    await page.keyboard.press('ArrowLeft');
    await expect(page.evaluate(() => document.activeElement?.id)).resolves.toBe('tab-whatif');
    // Into the messages: Tab reaches a message's button; Enter explains it.
    await page.focus('#tab-messages');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#panel-messages li.msg button.pick');
    await page.focus('#panel-messages li.msg button.pick');
    await page.keyboard.press('Enter');
    await expect(page.locator('.explain h3').textContent()).resolves.toBe('Explain: IntelligenceReport');
    await page.focus('#fullscreen');
    await page.keyboard.press('Enter');
    await expect(page.evaluate(() => document.body.classList.contains('presenter'))).resolves.toBe(true);
    await screenshot(page, 'console-presenter');
    await page.keyboard.press('Enter');
    await expect(page.evaluate(() => document.body.classList.contains('presenter'))).resolves.toBe(false);
  }, 60_000);

  it('played to the end, the who-saw-what matrix in the page equals the simulator’s result; refusals in red with their reason in words; withheld fields named', async () => {
    await page.selectOption('#speed', '1000');
    await page.click('#play');
    const result = (await ui.session.start()) as ScenarioResult;
    expect(result.failures).toEqual([]);
    await tab('matrix');
    await page.waitForFunction(() => document.querySelector('.status')?.textContent?.includes('Finished'), undefined, { timeout: 30_000 });
    const cells = await page.$$eval('#matrix tbody td[data-type]', (tds) => tds.map((td) => [td.closest('tr')!.getAttribute('data-agency')!, td.getAttribute('data-type')!, td.getAttribute('data-tier')!]));
    const shown: Record<string, Record<string, string>> = {};
    for (const [agency, type, tier] of cells) if (tier) (shown[agency!] ??= {})[type!] = tier;
    expect(shown).toEqual(result.saw);
    const types = new Set(Object.values(result.saw).flatMap((m) => Object.keys(m)));
    expect(cells.length).toBe(result.agencies.length * types.size);
    await screenshot(page, 'console-matrix');

    await tab('messages');
    const refused = page.locator('li.msg[data-outcome="refused"]').first();
    await expect(refused.getAttribute('class')).resolves.toContain('bad');
    await expect(refused.locator('.reason').textContent()).resolves.toBe(ERROR_CODES.ERR_POLICY_SEND_DENIED);
    const color = await refused.locator('.reason').evaluate((el) => getComputedStyle(el).color);
    expect(color).toBe('rgb(138, 28, 28)');
    const ngoCopy = page.locator('li.msg[data-type="CaseReferral"]', { hasText: 'Harbour Lights Protection Network' }).first();
    await expect(ngoCopy.locator('.withheld').textContent()).resolves.toContain('criminalIntelligence');
    await screenshot(page, 'console-messages');
  }, 300_000);

  it('the audit view shows the ledger verified with the audit key; choosing a message explains it from the ledger', async () => {
    await tab('audit');
    await page.waitForSelector('#audit-verified', { timeout: 60_000 });
    await expect(page.locator('#audit-verified').getAttribute('class')).resolves.toContain('ok');
    await expect(page.locator('#audit-verified').textContent()).resolves.toMatch(/^Ledger intact: \d+ entries verified with the audit key/);
    await tab('messages');
    await page.locator('li.msg[data-type="CaseReferral"]', { hasText: 'Harbour Lights Protection Network' }).first().locator('button.pick').click();
    await page.click('#ask-ledger');
    await page.waitForSelector('.explained p', { timeout: 15_000 });
    const told = await page.locator('.explained').first().textContent();
    expect(told).toMatch(/personal copy stored .* for .*Harbour Lights Protection Network/);
    await screenshot(page, 'console-explain');
  }, 120_000);

  it('axe-core finds no serious or critical accessibility violation in any view', async () => {
    const found: string[] = [];
    for (const view of VIEWS) {
      await tab(view);
      const r = await new AxeBuilder({ page }).analyze();
      for (const v of r.violations) if (v.impact === 'serious' || v.impact === 'critical') found.push(`${view}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      await screenshot(page, `console-${view}`);
    }
    expect(found).toEqual([]);
  }, 120_000);

  it('policy what-if: per agency, the gains and losses the page shows are those of `liaison policy diff`; then the scenario under both, the verdict first', async () => {
    await tab('whatif');
    await page.setInputFiles('#draft-file', join(dir, 'strict.yaml'));
    await page.waitForFunction(() => (document.querySelector('#draft-text') as HTMLTextAreaElement).value.length > 100);
    await page.click('form.draft button[type=submit]');
    await page.waitForSelector('#whatif-agencies [data-agency]', { timeout: 30_000 });
    const shown = await page.$$eval('#whatif-agencies [data-agency] tr[data-type]', (rows) =>
      rows.map((tr) => [tr.closest('[data-agency]')!.getAttribute('data-agency'), tr.getAttribute('data-type'), tr.getAttribute('data-scope'), tr.getAttribute('data-before'), tr.getAttribute('data-after')].join(' ')),
    );
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l), interrupted: new Promise<void>(() => undefined) };
    expect(await runCli(['policy', 'diff', EXAMPLE_POLICY, join(dir, 'strict.yaml'), '--json'], io)).toBe(0);
    const diff = JSON.parse(out.join('')) as PolicyDiff;
    const expected = diff.receive.filter((c) => c.subject === 'agency').map((c) => [c.name, c.type, c.scope, c.before ?? 'nothing', c.after ?? 'nothing'].join(' '));
    expect(expected.length).toBeGreaterThan(0);
    expect(shown.sort()).toEqual(expected.sort());
    // The replay under the draft: the strict draft breaks an expectation, said first, in red; the matrices side by side.
    await page.waitForSelector('#whatif-result .verdict', { timeout: 800_000 });
    await expect(page.locator('#whatif-result .verdict').getAttribute('class')).resolves.toContain('fail');
    await expect(page.locator('#whatif-result .verdict').textContent()).resolves.toMatch(/^FAIL: strict\.yaml breaks 1 expectation\(s\)/);
    await expect(page.locator('#matrix-draft td.loss[data-type="IntelligenceReport"]').count()).resolves.toBeGreaterThan(0);
    const text = await page.locator('#whatif-result').textContent();
    expect(text).not.toContain(dir);
    await screenshot(page, 'console-whatif');
  }, 900_000); // a second whole run of the scenario, under the draft, on a shared 2-core machine

  it('the --report HTML draws the same runs: the draft’s verdict first, agencies by name, withheld fields named, no local path, nothing scrolls sideways', async () => {
    const main = (await ui.session.start())!;
    const draft = ui.session.draftResult()!;
    expect(draft).toBeDefined();
    const html = renderReport(main, { other: draft, diff: compareRuns(main, draft) });
    expect(html).not.toMatch(/<script|<link|src=/);
    expect(html).not.toContain(tmpdir());
    const report = await (await browser.newContext({ viewport: { width: 1024, height: 800 } })).newPage();
    try {
      await report.setContent(html);
      const verdicts = await report.$$eval('.verdict', (els) => els.map((e) => [e.className, e.textContent ?? '']));
      expect(verdicts[0]![0]).toContain('fail');
      expect(verdicts[0]![1]).toMatch(/^FAIL: strict\.yaml breaks 1 expectation/);
      const body = await report.textContent('body');
      expect(body).toContain('Harbour Lights Protection Network');
      expect(body).toContain('withheld: criminalIntelligence');
      expect(body).toContain(ERROR_CODES.ERR_POLICY_SEND_DENIED);
      const overflow = await report.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await screenshot(report, 'report');
      await report.emulateMedia({ media: 'print' });
      await mkdir(ARTIFACTS, { recursive: true });
      await report.pdf({ path: join(ARTIFACTS, 'report.pdf'), format: 'A4' });
    } finally {
      await report.close();
    }
  }, 60_000);
});
