import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isLiaisonError, type LiaisonError } from '../services/sdk/errors.ts';
import {
  agencyServes,
  servedTypes,
  canSend,
  checkReceive,
  checkSend,
  compileConsumers,
  compilePermissions,
  compileStreams,
  agencyBuckets,
  bucketPermissions,
  bucketSubscriptions,
  compileBuckets,
  decideReceive,
  decideSend,
  parsePolicy,
  receiveCeiling,
  loadPolicyFile,
  type Policy,
  type PolicyIssue,
  SERVICE_RESPONSES,
} from '../services/sdk/policy/index.ts';
import { consumerFilter } from '../services/sdk/subjects.ts';
import { policyHash as directoryPolicyHash } from '../services/sdk/trust/directory.ts';
import { TIERS } from '../services/sdk/tier.ts';
import { stringify, parse } from 'yaml';
import { CATALOGUE, typeCatalogFromList } from './support/catalogue-list.ts';

const catalog = typeCatalogFromList();
const EXAMPLE = join(import.meta.dirname, '../deploy/policies/federation.yaml');
const exampleText = readFileSync(EXAMPLE, 'utf8');
const example = (): Policy => parsePolicy(exampleText, { file: EXAMPLE, catalog });
const DAY = 86_400_000;

/** A small valid policy; line 14 column 9 is the `tier` key of roles.ngo.receive[0]. */
const BASE = [
  'version: 1', //                                                             1
  'name: test-federation', //                                                  2
  'roles:', //                                                                 3
  '  police:', //                                                              4
  '    send: [DocumentReport, CaseReferral, IntelligenceReport]', //          5
  '    receive:', //                                                           6
  '      - types: [DocumentHitNotice]', //                                     7
  '        tier: personal', //                                                 8
  '        scope: direct', //                                                  9
  '  ngo:', //                                                                10
  '    description: protection', //                                           11
  '    receive:', //                                                          12
  '      - types: [CaseReferral]', //                                         13
  '        tier: personal', //                                                14
  '        scope: direct', //                                                 15
  'agencies:', //                                                             16
  '  xa-police: { name: Xandria Police, country: XAA, roles: [police] }', //  17
  '  xa-ngo: { name: Xandria NGO, country: XAA, roles: [ngo] }', //           18
];

/** BASE with some lines replaced (1-based line → new text). */
function variant(changes: Record<number, string>): string {
  return BASE.map((line, i) => changes[i + 1] ?? line).join('\n') + '\n';
}

function invalid(text: string): LiaisonError {
  try {
    parsePolicy(text, { file: 'policy.yaml', catalog });
  } catch (err) {
    if (isLiaisonError(err, 'ERR_POLICY_INVALID')) return err;
    throw err;
  }
  throw new Error('policy was accepted');
}

function issues(err: LiaisonError): PolicyIssue[] {
  return err.details.errors as PolicyIssue[];
}

describe('policy loading', () => {
  it('loads the example federation policy with its roles, agencies and retention', async () => {
    const p = await loadPolicyFile(EXAMPLE, catalog);
    expect(p.name).toBe('mediterranean-pilot');
    expect(Object.keys(p.roles).sort()).toEqual(
      ['analyst-centre', 'border-police', 'case-registry', 'coast-guard', 'fiu', 'interpol-ncb', 'maritime-authority', 'ngo', 'prosecutor', 'return-programme', 'training-institute'],
    );
    expect(Object.keys(p.agencies)).toHaveLength(13);
    expect(p.roles['case-registry']!.state).toEqual({ kv: ['cases'], objects: [] });
    expect(p.agencies['xb-police']).toEqual({ id: 'xb-police', name: 'Bellmark National Police', country: 'XBB', roles: ['border-police', 'coast-guard', 'maritime-authority'] });
    expect(p.retention.documents).toBe(3650 * DAY);
    expect(p.consent).toEqual(['FinancialIntelligenceReport']);
    expect(p.defaultRetentionMs).toBe(365 * DAY);
    expect(p.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(p.source).toEqual({ file: EXAMPLE, text: exampleText });
    expect(p.roles.ngo!.receive[0]).toMatchObject({ role: 'ngo', index: 0, tier: 'personal', scope: 'direct', handling: ['H0', 'H1', 'H2', 'H3'] });
  });

  it('the example keeps the NGO away from intelligence and the special tier', () => {
    const p = example();
    const ngoRules = p.roles.ngo!.receive;
    expect(ngoRules.every((r) => r.tier !== 'special')).toBe(true);
    expect(ngoRules.flatMap((r) => r.types)).not.toContain('IntelligenceReport');
    expect(receiveCeiling(p, 'xa-ngo-harbour', 'CaseReferral', 'direct')?.tier).toBe('personal');
  });

  it('accepts the small base policy used by the validation tests', () => {
    expect(parsePolicy(variant({}), { file: 'policy.yaml', catalog }).roles.ngo!.receive).toHaveLength(1);
  });
});

describe('policy validation names file:line:col and the key path', () => {
  it('unknown tier', () => {
    const err = invalid(variant({ 14: '        tier: secret' }));
    expect(err.message).toBe('policy.yaml:14:9 roles.ngo.receive[0].tier: unknown tier "secret" (expected one of public, operational, personal, special)');
    expect(err.details).toMatchObject({ file: 'policy.yaml', line: 14, column: 9, key: 'roles.ngo.receive[0].tier' });
  });

  it('unknown message type, with a hint', () => {
    const err = invalid(variant({ 13: '      - types: [CaseReferal]' }));
    expect(err.message).toBe('policy.yaml:13:17 roles.ngo.receive[0].types[0]: unknown message type "CaseReferal" (did you mean "CaseReferral"?)');
  });

  it('unknown key (typo)', () => {
    const err = invalid(variant({ 12: '    recieve:' }));
    expect(issues(err)[0]).toMatchObject({ line: 12, column: 5, key: 'roles.ngo.recieve' });
    expect(err.message).toMatch(/^policy\.yaml:12:5 roles\.ngo\.recieve: unknown key "recieve" .*did you mean "receive"/);
  });

  it('unknown role on an agency', () => {
    const err = invalid(variant({ 18: '  xa-ngo: { name: Xandria NGO, country: XAA, roles: [ngoo] }' }));
    expect(issues(err)).toEqual([expect.objectContaining({ line: 18, column: 54, key: 'agencies.xa-ngo.roles[0]' })]);
    expect(err.message).toContain('unknown role "ngoo"');
  });

  it('bad country code', () => {
    const err = invalid(variant({ 17: '  xa-police: { name: Xandria Police, country: xa, roles: [police] }' }));
    expect(err.message).toMatch(/^policy\.yaml:17:38 agencies\.xa-police\.country: invalid country "xa"/);
  });

  it('bad YAML syntax', () => {
    const err = invalid(variant({ 5: '    send: [DocumentReport, CaseReferral' }));
    expect(err.message).toMatch(/^policy\.yaml:\d+:\d+ YAML syntax error: /);
    expect(issues(err)[0]!.line).toBeGreaterThanOrEqual(5);
  });

  it('collects every error into one, the first in the headline', () => {
    const err = invalid(
      variant({
        1: 'version: 2',
        12: '    recieve:',
        17: '  all: { name: Xandria Police, country: XA, roles: [police] }',
        18: '  xa-ngo: { name: Xandria NGO, country: XAA, roles: [ngo, ghost] }\nretention:\n  documents: 30x\n  fish: 2d',
      }),
    );
    const keys = issues(err).map((i) => i.key);
    expect(keys).toEqual([
      'version',
      'roles.ngo.recieve',
      'roles.ngo',
      'agencies.all',
      'agencies.all.country',
      'agencies.xa-ngo.roles[1]',
      'retention.documents',
      'retention.fish',
    ]);
    expect(err.message.split('\n')[0]).toBe('policy.yaml:1:1 version: unsupported version 2 (expected 1) (and 7 more errors)');
    expect(err.message.split('\n')).toHaveLength(8);
    expect(issues(err).every((i) => /^policy\.yaml:\d+:\d+ /.test(i.text))).toBe(true);
  });

  it('a role that may neither send nor receive is an error', () => {
    const err = invalid(variant({ 12: '    receive: []', 13: '', 14: '', 15: '' }));
    expect(issues(err)).toEqual([expect.objectContaining({ line: 10, column: 3, key: 'roles.ngo' })]);
  });

  it('duplicate types in a send list are an error', () => {
    const err = invalid(variant({ 5: '    send: [DocumentReport, CaseReferral, DocumentReport]' }));
    expect(err.message).toBe('policy.yaml:5:42 roles.police.send[2]: duplicate "DocumentReport" (already at roles.police.send[0])');
  });

  it('bad scope, handling and TLP values, missing required keys, bad names', () => {
    const err = invalid(
      variant({
        4: '  Police:',
        9: '        scope: everyone\n        handling: [H0, H9]\n        tlp: [WHITE]',
        15: '',
        17: '  xa-police: { name: Xandria Police, country: XAA, roles: [Police] }',
      }),
    );
    expect(issues(err).map((i) => [i.key, i.message.split(' (')[0]])).toEqual([
      ['roles.Police', 'invalid role name "Police"'],
      ['roles.Police.receive[0].scope', 'unknown scope "everyone"'],
      ['roles.Police.receive[0].handling[1]', 'unknown handling code "H9"'],
      ['roles.Police.receive[0].tlp[0]', 'unknown TLP label "WHITE"'],
      ['roles.ngo.receive[0].scope', 'is required'],
    ]);
  });
});

describe('policy hash', () => {
  it('is one value everywhere: the sha256 of the policy text that sha256sum recomputes, and the directory\'s policyHash', () => {
    const p = parsePolicy(exampleText, { catalog });
    const sum = execFileSync('sha256sum', [EXAMPLE], { encoding: 'utf8' }).split(' ')[0];
    expect(p.hash).toBe(`sha256:${sum}`);
    expect(p.hash).toBe(directoryPolicyHash(exampleText));
    // What was signed is what is named: the same rules laid out differently are another text, another hash.
    const data = parse(exampleText) as Record<string, unknown>;
    const reformatted = stringify(data, { collectionStyle: 'flow', defaultStringType: 'QUOTE_DOUBLE' });
    expect(parsePolicy(reformatted, { catalog }).hash).not.toBe(p.hash);
  });

  it('changes when a rule changes', () => {
    const a = parsePolicy(variant({}), { catalog }).hash;
    const b = parsePolicy(variant({ 14: '        tier: operational' }), { catalog }).hash;
    const c = parsePolicy(variant({ 15: '        scope: any' }), { catalog }).hash;
    expect(new Set([a, b, c]).size).toBe(3);
  });
});

function thrown(fn: () => unknown): LiaisonError {
  try {
    fn();
  } catch (err) {
    if (isLiaisonError(err)) return err;
    throw err;
  }
  throw new Error('no error thrown');
}

describe('send decisions', () => {
  const p = example();
  const msg = { handling: 'H0', tlp: 'GREEN' } as const;

  it('canSend names the send list that allows, or says no rule matched', () => {
    expect(canSend(p, 'xa-border-police', 'DocumentReport')).toEqual({
      allowed: true,
      rule: 'roles.border-police.send',
      reason: 'roles.border-police.send lists DocumentReport',
    });
    const d = canSend(p, 'xa-ngo-harbour', 'IntelligenceReport');
    expect(d).toMatchObject({ allowed: false, code: 'ERR_POLICY_SEND_DENIED' });
    expect(d.reason).toContain('no rule matched');
    expect(canSend(p, 'nobody', 'DocumentReport')).toMatchObject({ allowed: false, code: 'ERR_AGENCY_UNKNOWN' });
  });

  it('a directed message goes as one copy at the recipient ceiling', () => {
    expect(checkSend(p, { ...msg, sender: 'xa-border-police', type: 'IntelligenceReport', recipient: 'xa-prosecutor' }).copies).toEqual([
      { tier: 'personal', recipients: ['xa-prosecutor'] },
    ]);
    expect(checkSend(p, { ...msg, sender: 'xa-coast-guard', type: 'IntelligenceReport', recipient: 'xb-police' }).copies).toEqual([
      { tier: 'personal', recipients: ['xb-police'] },
    ]);
  });

  it('an observer (the case registry) gets its own tier of every message of the types it observes, whoever the recipient', () => {
    // Same tier as the NGO: one copy serves both.
    expect(checkSend(p, { ...msg, sender: 'xa-border-police', type: 'CaseReferral', recipient: 'xa-ngo-harbour' }).copies).toEqual([
      { tier: 'personal', recipients: ['xa-ngo-harbour', 'mac-cases'] },
    ]);
    // The prosecutor sees the special tier, the registry its own (personal) copy, never the special one.
    expect(checkSend(p, { ...msg, sender: 'xa-border-police', type: 'CaseReferral', recipient: 'xa-prosecutor' }).copies).toEqual([
      { tier: 'personal', recipients: ['mac-cases'] },
      { tier: 'special', recipients: ['xa-prosecutor'] },
    ]);
    // A broadcast offer: the registry observes it at the public tier with everyone else.
    const offer = checkSend(p, { ...msg, sender: 'xc-training', type: 'TrainingOffer', recipient: 'all' });
    expect(offer.copies).toHaveLength(1);
    expect(offer.copies[0]!.recipients).toContain('mac-cases');
    // Receipt: the registry accepts its tier of a message directed to someone else, and nothing else.
    const seen = { receiver: 'mac-cases', sender: 'xa-border-police', type: 'CaseReferral', recipient: 'xa-prosecutor', tier: 'personal' as const, handling: 'H2' as const, tlp: 'AMBER' as const };
    expect(checkReceive(p, seen).ruleName).toBe('roles.case-registry.receive[1]');
    expect(thrown(() => checkReceive(p, { ...seen, tier: 'special' })).code).toBe('ERR_POLICY_RECEIVE_DENIED');
    expect(thrown(() => checkReceive(p, { ...seen, type: 'IntelligenceReport', sender: 'xa-coast-guard' })).code).toBe('ERR_POLICY_RECEIVE_DENIED');
    // Other agencies still may not read copies directed to someone else.
    expect(thrown(() => checkReceive(p, { ...seen, receiver: 'xa-ngo-harbour' })).code).toBe('ERR_POLICY_RECEIVE_DENIED');
  });

  it('an agency may not both observe a type and receive it as a party (copies would arrive twice)', () => {
    const err = invalid(variant({ 15: '        scope: direct\n      - types: [CaseReferral]\n        tier: operational\n        scope: observe' }));
    expect(issues(err).map((i) => i.message).join('\n')).toContain('both observes and receives CaseReferral');
  });

  it('a directed message is refused with the typed code when the policy denies it', () => {
    const intel = { ...msg, sender: 'xa-border-police', type: 'IntelligenceReport' };
    const toNgo = thrown(() => checkSend(p, { ...intel, recipient: 'xa-ngo-harbour' }));
    expect(toNgo.code).toBe('ERR_POLICY_RECEIVE_DENIED');
    expect(toNgo.message).toContain('no rule matched');
    expect(thrown(() => checkSend(p, { ...intel, recipient: 'xz-unknown' })).code).toBe('ERR_AGENCY_UNKNOWN');
    expect(thrown(() => checkSend(p, { ...intel, recipient: 'xa-border-police' })).code).toBe('ERR_POLICY_SEND_DENIED');
    expect(thrown(() => checkSend(p, { ...msg, sender: 'xa-ngo-harbour', type: 'IntelligenceReport', recipient: 'xa-border-police' })).code).toBe(
      'ERR_POLICY_SEND_DENIED',
    );
  });

  it('a handling code or TLP the recipient rule does not admit is refused, naming the rule', () => {
    const h1 = thrown(() => checkSend(p, { sender: 'xa-border-police', type: 'IntelligenceReport', recipient: 'xa-prosecutor', handling: 'H1', tlp: 'AMBER' }));
    expect(h1.code).toBe('ERR_POLICY_HANDLING_DENIED');
    expect(h1.message).toContain('roles.prosecutor.receive[2]');
    expect(h1.details.rule).toBe('roles.prosecutor.receive[2]');
    const red = thrown(() => checkSend(p, { sender: 'xa-border-police', type: 'CaseReferral', recipient: 'xa-ngo-harbour', handling: 'H0', tlp: 'RED' }));
    expect(red.code).toBe('ERR_POLICY_HANDLING_DENIED');
    expect(red.message).toContain('roles.ngo.receive[0] does not admit TLP RED');
  });

  it('a broadcast goes as one copy per distinct ceiling tier, never to the sender', () => {
    const plan = checkSend(p, { ...msg, sender: 'xa-border-police', type: 'DocumentReport', recipient: 'all' });
    expect(plan.copies).toEqual([
      { tier: 'operational', recipients: ['mac-centre'] },
      { tier: 'personal', recipients: ['xb-police', 'xc-ncb'] },
    ]);
    expect(plan.rule).toBe('roles.border-police.send');
  });

  it('TLP RED and AMBER+STRICT are never broadcast', () => {
    for (const tlp of ['RED', 'AMBER+STRICT'] as const) {
      const err = thrown(() => checkSend(p, { sender: 'xa-border-police', type: 'DocumentReport', recipient: 'all', handling: 'H0', tlp }));
      expect(err.code).toBe('ERR_POLICY_HANDLING_DENIED');
    }
  });

  it('a broadcast nobody may receive is refused', () => {
    const err = thrown(() => checkSend(p, { ...msg, sender: 'xa-prosecutor', type: 'MutualLegalAssistanceRequest', recipient: 'all' }));
    expect(err.code).toBe('ERR_POLICY_NO_RECIPIENT');
    expect(err.message).toContain('no rule matched');
  });

  it('a broadcast skips agencies whose rule does not admit the handling code', () => {
    const text = variant({ 15: '        scope: any\n        handling: [H0]', 18: '  xa-ngo: { name: Xandria NGO, country: XAA, roles: [ngo] }\n  xb-ngo: { name: Bellmark NGO, country: XBB, roles: [ngo] }' });
    const q = parsePolicy(text, { catalog });
    expect(checkSend(q, { sender: 'xa-police', type: 'CaseReferral', recipient: 'all', handling: 'H0', tlp: 'GREEN' }).copies).toEqual([
      { tier: 'personal', recipients: ['xa-ngo', 'xb-ngo'] },
    ]);
    const err = thrown(() => checkSend(q, { sender: 'xa-police', type: 'CaseReferral', recipient: 'all', handling: 'H2', tlp: 'GREEN' }));
    expect(err.code).toBe('ERR_POLICY_NO_RECIPIENT');
    expect(err.message).toContain('roles.ngo.receive[0] does not admit handling H2');
  });

  it('decideSend reports decisions without throwing', () => {
    expect(decideSend(p, { ...msg, sender: 'xa-border-police', type: 'CaseReferral', recipient: 'xa-ngo-harbour' })).toMatchObject({
      allowed: true,
      rule: 'roles.border-police.send',
    });
    expect(decideSend(p, { sender: 'xa-border-police', type: 'IntelligenceReport', recipient: 'xa-prosecutor', handling: 'H1', tlp: 'GREEN' })).toMatchObject({
      allowed: false,
      code: 'ERR_POLICY_HANDLING_DENIED',
      rule: 'roles.prosecutor.receive[2]',
    });
  });
});

describe('receive decisions', () => {
  const p = example();
  const base = { handling: 'H0', tlp: 'GREEN' } as const;

  it('the ceiling is the highest tier over all roles of the agency; `any` counts for both scopes', () => {
    const c = receiveCeiling(p, 'xb-police', 'IntelligenceReport', 'direct');
    expect(c?.tier).toBe('personal');
    expect(c?.rule).toMatchObject({ role: 'border-police', index: 2 });
    expect(receiveCeiling(p, 'xa-coast-guard', 'IntelligenceReport', 'broadcast')?.tier).toBe('operational');
    expect(receiveCeiling(p, 'xc-ncb', 'PersonAlert', 'broadcast')?.tier).toBe('special');
    expect(receiveCeiling(p, 'xc-ncb', 'PersonAlert', 'direct')?.tier).toBe('special');
    expect(receiveCeiling(p, 'xa-ngo-harbour', 'IntelligenceReport', 'direct')).toBeUndefined();
    expect(receiveCeiling(p, 'nobody', 'CaseReferral', 'direct')).toBeUndefined();
  });

  it('accepts a copy at the receiver ceiling and returns the deciding rule', () => {
    const g = checkReceive(p, { ...base, receiver: 'xa-ngo-harbour', sender: 'xa-border-police', type: 'CaseReferral', recipient: 'xa-ngo-harbour', tier: 'personal' });
    expect(g.ruleName).toBe('roles.ngo.receive[0]');
    expect(g.tier).toBe('personal');
    const b = checkReceive(p, { ...base, receiver: 'mac-centre', sender: 'xa-border-police', type: 'DocumentReport', recipient: 'all', tier: 'operational' });
    expect(b.ruleName).toBe('roles.analyst-centre.receive[0]');
  });

  it('refuses copies the policy does not grant, with the typed code', () => {
    const ok = { ...base, receiver: 'xa-ngo-harbour', sender: 'xa-border-police', type: 'CaseReferral', recipient: 'xa-ngo-harbour', tier: 'personal' } as const;
    expect(thrown(() => checkReceive(p, { ...ok, tier: 'special' }))).toMatchObject({ code: 'ERR_POLICY_RECEIVE_DENIED', details: { rule: 'roles.ngo.receive[0]' } });
    expect(thrown(() => checkReceive(p, { ...ok, tier: 'operational' })).code).toBe('ERR_POLICY_RECEIVE_DENIED');
    expect(thrown(() => checkReceive(p, { ...ok, recipient: 'xa-prosecutor' })).code).toBe('ERR_POLICY_RECEIVE_DENIED');
    expect(thrown(() => checkReceive(p, { ...ok, sender: 'mac-centre' })).code).toBe('ERR_POLICY_SEND_DENIED');
    expect(thrown(() => checkReceive(p, { ...ok, sender: 'xz-ghost' })).code).toBe('ERR_AGENCY_UNKNOWN');
    expect(thrown(() => checkReceive(p, { ...ok, tlp: 'RED' })).code).toBe('ERR_POLICY_HANDLING_DENIED');
    expect(thrown(() => checkReceive(p, { ...ok, recipient: 'all' })).code).toBe('ERR_POLICY_RECEIVE_DENIED');
    const h1 = thrown(() =>
      checkReceive(p, { receiver: 'xa-prosecutor', sender: 'xa-border-police', type: 'IntelligenceReport', recipient: 'xa-prosecutor', tier: 'personal', handling: 'H1', tlp: 'GREEN' }),
    );
    expect(h1.code).toBe('ERR_POLICY_HANDLING_DENIED');
    expect(h1.message).toContain('roles.prosecutor.receive[2]');
    expect(thrown(() => checkReceive(p, { ...base, receiver: 'mac-centre', sender: 'xa-border-police', type: 'DocumentReport', recipient: 'all', tier: 'operational', tlp: 'RED' })).code).toBe(
      'ERR_POLICY_HANDLING_DENIED',
    );
  });

  it('every broadcast copy the sender plans is accepted by its recipients', () => {
    const plan = checkSend(p, { ...base, sender: 'xa-border-police', type: 'DocumentReport', recipient: 'all' });
    for (const copy of plan.copies) {
      for (const receiver of copy.recipients) {
        expect(decideReceive(p, { ...base, receiver, sender: 'xa-border-police', type: 'DocumentReport', recipient: 'all', tier: copy.tier }).allowed).toBe(true);
      }
    }
  });
});

describe('compiled broker artefacts', () => {
  const p = example();
  const agencies = Object.keys(p.agencies);

  it('an agency may publish only its own sender token and its own consumers, and nothing broader', () => {
    for (const id of agencies) {
      const { pub, sub } = compilePermissions(p, id, catalog);
      for (const s of [...pub.allow, ...sub.allow]) {
        expect(['>', '*', '_INBOX.>', '$JS.API.>', 'LIAISON.API.>', 'liaison.>', '$JS.>']).not.toContain(s);
        const own = agencyBuckets(p, id).some((b) => s.endsWith(`KV_${b.bucket}`) || s.endsWith(`OBJ_${b.bucket}`) || s.includes(`KV_${b.bucket}.`) || s.includes(`OBJ_${b.bucket}.`));
        if (!own) expect(/^(\$JS|LIAISON)\.API\.(STREAM|CONSUMER\.CREATE|DIRECT)/.test(s), s).toBe(false);
        // The exchange's API is reached only through the agency account's imports (LIAISON.API), never by its own name.
        expect(s.startsWith('$JS.API.'), s).toBe(false);
      }
      for (const s of pub.allow) {
        const t = s.split('.');
        if (s.startsWith('liaison.v1.') && t.length === 7) {
          expect(t[5], s).toBe(id);
          expect(t[6], s).toBe('*');
          expect(t.slice(0, 6).includes('*')).toBe(false);
          expect(canSend(p, id, t[4]!).allowed).toBe(true);
        } else if (s.startsWith('LIAISON.API.') && agencyBuckets(p, id).some((b) => s.includes(`KV_${b.bucket}`) || s.includes(`OBJ_${b.bucket}`) || s.includes(`$KV.${b.bucket}.`))) {
          // Rights on its own state buckets only (checked exactly below).
          expect(agencyBuckets(p, id).flatMap(bucketPermissions)).toContain(s);
        } else if (s.startsWith('$O.')) {
          expect(agencyBuckets(p, id).flatMap(bucketPermissions)).toContain(s);
        } else if (s.startsWith('LIAISON.API.') || s.startsWith('$JS.')) {
          expect(s, s).toMatch(new RegExp(`^(LIAISON\\.API\\.CONSUMER\\.(INFO|MSG\\.NEXT)\\.LIAISON_[A-Z]+\\.${id}__[A-Za-z]+__(direct|all|observe)(__r\\d+)?|\\$JS\\.ACK\\.LIAISON_[A-Z]+\\.${id}__[A-Za-z]+__(direct|all|observe)(__r\\d+)?\\.>)$`));
        } else if (s.startsWith('liaison.v1.svc.') && !s.startsWith('liaison.v1.svc.trust.') && !s.startsWith('liaison.v1.svc.exchange.')) {
          // A request/reply service it may call, on its own request subject: a type it may send that some role serves.
          expect(t).toHaveLength(6);
          expect(t[5]).toBe(id);
          expect(canSend(p, id, t[4]!).allowed).toBe(true);
          expect(servedTypes(p).has(t[4]!)).toBe(true);
        } else if (s === SERVICE_RESPONSES) {
          // A serving agency answers along its account's response routes, and only a serving agency.
          expect(agencyServes(p, id).length).toBeGreaterThan(0);
        } else {
          expect([`liaison.v1.quarantine.${id}`, `liaison.v1.svc.trust.directory.${id}`, `liaison.v1.svc.exchange.replay.${id}`, `liaison.v1.svc.exchange.retract.${id}`, `liaison.v1.svc.exchange.quarantine.${id}`, `liaison.v1.svc.exchange.peek.${id}`, `liaison.v1.status.agency.${id}`]).toContain(s);
        }
        // Wildcards: its own consumers' acks, its own buckets, and (checked above) its permitted requesters' inboxes.
        if (s.includes('>')) expect(s.startsWith('$JS.ACK.') || s === SERVICE_RESPONSES || agencyBuckets(p, id).flatMap(bucketPermissions).includes(s), s).toBe(true);
      }
      for (const s of sub.allow) {
        const t = s.split('.');
        if (t.length === 7) {
          expect(t[5]).toBe('*');
          expect([id, 'all', '*']).toContain(t[6]);
          expect(receiveCeiling(p, id, t[4]!, t[6] === 'all' ? 'broadcast' : t[6] === '*' ? 'observe' : 'direct')?.tier).toBe(t[2]);
        } else if (s.startsWith('liaison.v1.svc.')) {
          // Only an agency whose roles serve a type listens as that service (any requester's subject).
          expect(agencyServes(p, id)).toContain(t[4]);
          expect(t).toHaveLength(6);
          expect(t[5]).toBe('*');
        } else if (s.startsWith('liaison.v1.state.')) {
          // Its own KV buckets' change notices only: it follows them without consumer rights.
          expect(agencyBuckets(p, id).flatMap(bucketSubscriptions)).toContain(s);
        } else {
          expect([`_INBOX_${id}.>`, 'liaison.v1.trust.directory', 'liaison.v1.status.ping']).toContain(s);
        }
      }
    }
  });

  it('compiles the NGO permissions exactly', () => {
    const perms = compilePermissions(p, 'xa-ngo-harbour', catalog);
    // Its roles' send list, plus the built-in control types every agency may send (retraction, receipt).
    const sendTypes = ['CaseQuery', 'CaseReferral', 'EnrolmentRequest', 'PracticeNote', 'ReferralAcknowledgement', 'ReferralClosure', 'ReferralDecision', 'ReferralUpdate', 'Retraction', 'RetractionReceipt'];
    const messagePub = perms.pub.allow.filter((s) => s.startsWith('liaison.v1.') && s.split('.').length === 7);
    expect(messagePub).toHaveLength(sendTypes.length * TIERS.length);
    expect(messagePub).toContain('liaison.v1.special.referrals.CaseReferral.xa-ngo-harbour.*');
    expect(perms.sub.allow).toEqual([
      '_INBOX_xa-ngo-harbour.>',
      'liaison.v1.operational.control.Retraction.*.xa-ngo-harbour',
      'liaison.v1.operational.control.RetractionReceipt.*.xa-ngo-harbour',
      'liaison.v1.operational.workflows.CaseQueryResult.*.xa-ngo-harbour',
      'liaison.v1.operational.workflows.WorkflowRejection.*.xa-ngo-harbour',
      'liaison.v1.operational.workflows.WorkflowReminder.*.xa-ngo-harbour',
      'liaison.v1.operational.workflows.WorkflowStateChange.*.xa-ngo-harbour',
      'liaison.v1.personal.referrals.CaseReferral.*.xa-ngo-harbour',
      'liaison.v1.personal.referrals.ReferralAcknowledgement.*.xa-ngo-harbour',
      'liaison.v1.personal.referrals.ReferralClosure.*.xa-ngo-harbour',
      'liaison.v1.personal.referrals.ReferralDecision.*.xa-ngo-harbour',
      'liaison.v1.personal.referrals.ReferralUpdate.*.xa-ngo-harbour',
      'liaison.v1.personal.training.EnrolmentDecision.*.xa-ngo-harbour',
      'liaison.v1.personal.training.TrainingCompleted.*.xa-ngo-harbour',
      'liaison.v1.public.analysis.StrategicReport.*.all',
      'liaison.v1.public.cooperation.BoardingMeasuresReport.*.xa-ngo-harbour',
      'liaison.v1.public.cooperation.PracticeNote.*.all',
      'liaison.v1.public.training.TrainingOffer.*.all',
      'liaison.v1.status.ping',
      'liaison.v1.trust.directory',
    ]);
    expect(perms.pub.allow).toContain('LIAISON.API.CONSUMER.MSG.NEXT.LIAISON_REFERRALS.xa-ngo-harbour__CaseReferral__direct');
    expect(perms.pub.allow).toContain('LIAISON.API.$KV.xa-ngo-harbour_handled.>');
    expect(perms.pub.allow).toContain('$JS.ACK.LIAISON_REFERRALS.xa-ngo-harbour__CaseReferral__direct.>');
    expect(thrown(() => compilePermissions(p, 'xz-ghost', catalog)).code).toBe('ERR_AGENCY_UNKNOWN');
  });

  it('one consumer per receivable (type, scope) and replica, filtered at the ceiling tier', () => {
    const consumers = compileConsumers(p, catalog);
    expect(new Set(consumers.map((c) => c.name)).size).toBe(consumers.length);
    for (const c of consumers) {
      const family = catalog.familyOf(c.type)!;
      expect(c.stream).toBe(`LIAISON_${family.toUpperCase()}`);
      expect(c.name).toBe(`${c.agency}__${c.type}__${c.scope}${c.replica > 1 ? `__r${c.replica}` : ''}`);
      expect(c.replica).toBeLessThanOrEqual(p.agencies[c.agency]!.replicas ?? 1);
      expect(c.tier).toBe(receiveCeiling(p, c.agency, c.type, c.scope === 'all' ? 'broadcast' : c.scope)!.tier);
      expect(c.maxAckPending).toBe(c.scope === 'observe' ? 64 : 10_000);
      expect(c.filterSubject).toBe(consumerFilter(c.agency, c.tier, family, c.type, c.scope));
    }
    // xc-ncb runs two registry replicas: the second reads the same subjects through its own consumers.
    expect(consumers.filter((c) => c.agency === 'xc-ncb' && c.replica === 2).map((c) => c.filterSubject)).toEqual(
      consumers.filter((c) => c.agency === 'xc-ncb' && c.replica === 1).map((c) => c.filterSubject),
    );
    const ncb = consumers.filter((c) => c.agency === 'xc-ncb' && c.replica === 1).map((c) => [c.name, c.filterSubject]);
    expect(ncb).toEqual([
      ['xc-ncb__DocumentCheckRequest__direct', 'liaison.v1.personal.documents.DocumentCheckRequest.*.xc-ncb'],
      ['xc-ncb__DocumentReportBatch__all', 'liaison.v1.personal.documents.DocumentReportBatch.*.all'],
      ['xc-ncb__DocumentReportBatch__direct', 'liaison.v1.personal.documents.DocumentReportBatch.*.xc-ncb'],
      ['xc-ncb__DocumentReport__all', 'liaison.v1.personal.documents.DocumentReport.*.all'],
      ['xc-ncb__DocumentReport__direct', 'liaison.v1.personal.documents.DocumentReport.*.xc-ncb'],
      ['xc-ncb__DocumentStatusChange__all', 'liaison.v1.personal.documents.DocumentStatusChange.*.all'],
      ['xc-ncb__DocumentStatusChange__direct', 'liaison.v1.personal.documents.DocumentStatusChange.*.xc-ncb'],
      // Forgery alerts (¶12), to flag checks in alerted ranges: operational, addressed or broadcast.
      ['xc-ncb__ForgeryAlert__all', 'liaison.v1.operational.documents.ForgeryAlert.*.all'],
      ['xc-ncb__ForgeryAlert__direct', 'liaison.v1.operational.documents.ForgeryAlert.*.xc-ncb'],
      ['xc-ncb__PersonAlert__all', 'liaison.v1.special.persons.PersonAlert.*.all'],
      ['xc-ncb__PersonAlert__direct', 'liaison.v1.special.persons.PersonAlert.*.xc-ncb'],
      ['xc-ncb__PersonCheckRequest__direct', 'liaison.v1.personal.persons.PersonCheckRequest.*.xc-ncb'],
      // Built in for every agency: retractions of what it received, receipts of its own retractions.
      ['xc-ncb__RetractionReceipt__direct', 'liaison.v1.operational.control.RetractionReceipt.*.xc-ncb'],
      ['xc-ncb__Retraction__direct', 'liaison.v1.operational.control.Retraction.*.xc-ncb'],
    ]);
    expect(compileConsumers(p, catalog)).toEqual(consumers);
    // The case registry observes: any sender, any recipient, a window of the SDK's in-flight size (in
    // stream order per instance; the registry keeps each case in order, issue 13).
    expect(consumers.find((c) => c.name === 'mac-cases__ReferralDecision__observe')).toMatchObject({
      filterSubject: 'liaison.v1.operational.referrals.ReferralDecision.*.*',
      maxAckPending: 64,
    });
  });

  it('state buckets: one per agency and name, with rights on that bucket only', () => {
    expect(compileBuckets(p).filter((b) => b.name !== 'handled')).toEqual([
      { agency: 'xc-ncb', kind: 'objects', name: 'snapshots', bucket: 'xc-ncb_snapshots' },
      { agency: 'mac-centre', kind: 'kv', name: 'correlations', bucket: 'mac-centre_correlations' },
      { agency: 'mac-cases', kind: 'kv', name: 'cases', bucket: 'mac-cases_cases' },
    ]);
    const perms = compilePermissions(p, 'mac-cases', catalog).pub.allow;
    expect(perms).toContain('LIAISON.API.$KV.mac-cases_cases.>');
    expect(perms).toContain('LIAISON.API.STREAM.INFO.KV_mac-cases_cases');
    expect(perms.filter((s) => s.startsWith('LIAISON.API.STREAM.') && !s.includes('_handled'))).toEqual(['LIAISON.API.STREAM.INFO.KV_mac-cases_cases', 'LIAISON.API.STREAM.MSG.GET.KV_mac-cases_cases']);
    expect(perms.some((s) => /DELETE|PURGE|UPDATE|CREATE\.KV_[^m]/.test(s))).toBe(false);
    // No consumer right on any bucket (2.9 never checks a push consumer's deliver subject), nor flow control.
    expect(perms.filter((s) => /^(LIAISON|\$JS)\.(API\.CONSUMER\.[A-Z.]+\.(KV|OBJ)_|FC\.)/.test(s))).toEqual([]);
    expect(compilePermissions(p, 'xc-ncb', catalog).pub.allow.filter((s) => s.includes('CONSUMER') && s.includes('OBJ_'))).toEqual([]);
    // Reads by direct get; changes followed on the bucket's change notices (its own KV buckets, the handled record excepted).
    expect(perms).toContain('LIAISON.API.DIRECT.GET.KV_mac-cases_cases');
    expect(compilePermissions(p, 'mac-cases', catalog).sub.allow.filter((s) => s.startsWith('liaison.v1.state.'))).toEqual(['liaison.v1.state.mac-cases_cases.>']);
    // The NGO has no state of its own: rights on its handled record only.
    const ngoState = compilePermissions(p, 'xa-ngo-harbour', catalog).pub.allow.filter((s) => s.includes('KV_') || s.includes('$KV.'));
    expect(ngoState).toContain('LIAISON.API.$KV.xa-ngo-harbour_handled.>');
    expect(ngoState.filter((s) => !s.includes('KV_xa-ngo-harbour_handled') && !s.includes('$KV.xa-ngo-harbour_handled.'))).toEqual([]);
  });

  it('every agency gets its own handled record, kept a day longer than the longest stream retention', () => {
    const handled = compileBuckets(p).filter((b) => b.name === 'handled');
    expect(handled).toEqual(
      Object.keys(p.agencies).map((agency) => ({ agency, kind: 'kv', name: 'handled', bucket: `${agency}_handled`, maxAgeMs: 3651 * DAY })),
    );
    expect(Math.max(...compileStreams(p, catalog).map((s) => s.maxAgeMs))).toBe(3650 * DAY);
    expect(agencyBuckets(p, 'not-an-agency')).toEqual([]);
  });

  it('one stream per family with its four tier subjects and the policy retention, plus quarantine', () => {
    const streams = compileStreams(p, catalog);
    expect(streams.map((s) => s.name)).toEqual([...Object.keys(CATALOGUE).map((f) => `LIAISON_${f.toUpperCase()}`), 'LIAISON_QUARANTINE'].sort());
    expect(streams.find((s) => s.name === 'LIAISON_DOCUMENTS')).toEqual({
      name: 'LIAISON_DOCUMENTS',
      subjects: ['liaison.v1.public.documents.>', 'liaison.v1.operational.documents.>', 'liaison.v1.personal.documents.>', 'liaison.v1.special.documents.>'],
      maxAgeMs: 3650 * DAY,
      duplicateWindowMs: 120_000,
    });
    expect(streams.find((s) => s.name === 'LIAISON_QUARANTINE')).toMatchObject({ subjects: ['liaison.v1.quarantine.>'], maxAgeMs: 30 * DAY });
    const small = parsePolicy(variant({}), { catalog });
    expect(compileStreams(small, catalog).find((s) => s.name === 'LIAISON_TRAINING')!.maxAgeMs).toBe(365 * DAY);
  });
});

describe('policy: request/reply services (serve)', () => {
  const cat = typeCatalogFromList();
  const SERVED = `version: 1
name: svc
roles:
  police:
    send: [DocumentCheckRequest]
    receive:
      - types: [DocumentCheckResult]
        tier: personal
        scope: direct
  registry:
    send: [DocumentCheckResult]
    receive:
      - types: [DocumentCheckRequest]
        tier: personal
        scope: direct
    serve: [DocumentCheckRequest]
agencies:
  xa-police: { name: P, country: XAA, roles: [police] }
  xc-registry: { name: R, country: XCC, roles: [registry] }
`;

  it('the serving agency may listen on the service subjects and answer only along its response routes; callers may only publish on their own', () => {
    const p = parsePolicy(SERVED, { file: 'svc.yaml', catalog: cat });
    const host = compilePermissions(p, 'xc-registry', cat);
    expect(host.sub.allow).toContain('liaison.v1.svc.documents.DocumentCheckRequest.*');
    expect(host.sub.allow).not.toContain('$SRV.>');
    // It answers into its callers' inboxes only: no NATS `resp`, whose reach the broker cannot bound.
    expect(host.resp).toBeUndefined();
    expect(host.pub.allow.filter((s) => s.startsWith('_INBOX') || s.startsWith('_R_'))).toEqual([SERVICE_RESPONSES]);
    const caller = compilePermissions(p, 'xa-police', cat);
    expect(caller.pub.allow).toContain('liaison.v1.svc.documents.DocumentCheckRequest.xa-police');
    expect(caller.pub.allow.filter((s) => s.startsWith('liaison.v1.svc.documents'))).toEqual(['liaison.v1.svc.documents.DocumentCheckRequest.xa-police']);
    expect(caller.sub.allow.filter((s) => s.startsWith('liaison.v1.svc.documents'))).toEqual([]);
    expect(caller.resp).toBeUndefined();
  });

  it('one agency serves each request type (the exchange routes one subject to one account): a second is a located error', () => {
    const second = `${SERVED.trimEnd()}\n  xd-registry: { name: D, country: XDD, roles: [registry] }\n`;
    expect(() => parsePolicy(second, { file: 'svc.yaml', catalog: cat })).toThrow(/svc\.yaml:\d+:\d+ agencies\.xd-registry\.roles: agency xd-registry would serve DocumentCheckRequest, which xc-registry serves already/);
    expect(() => parsePolicy(SERVED, { file: 'svc.yaml', catalog: cat })).not.toThrow();
  });

  it('replicas must be an integer from 1 to 8, and is reported with its location', () => {
    const bad = SERVED.replace('roles: [registry] }', 'roles: [registry], replicas: 0 }');
    expect(() => parsePolicy(bad, { file: 'svc.yaml', catalog: cat })).toThrow(/svc\.yaml:\d+:\d+ agencies\.xc-registry\.replicas: invalid replicas 0/);
    const two = parsePolicy(SERVED.replace('roles: [registry] }', 'roles: [registry], replicas: 2 }'), { file: 'svc.yaml', catalog: cat });
    const names = compileConsumers(two, cat).filter((c) => c.agency === 'xc-registry').map((c) => c.name);
    expect(names.filter((n) => !n.includes('__Retraction'))).toEqual(['xc-registry__DocumentCheckRequest__direct', 'xc-registry__DocumentCheckRequest__direct__r2']);
    expect(names).toContain('xc-registry__Retraction__direct__r2');
  });

  it('serving a type without a direct receive rule for it is a located error', () => {
    const bad = SERVED.replace('        scope: direct\n    serve:', '        scope: broadcast\n    serve:');
    expect(() => parsePolicy(bad, { file: 'svc.yaml', catalog: cat })).toThrow(/svc\.yaml:\d+:\d+ roles\.registry\.serve: the role serves DocumentCheckRequest but has no direct receive rule/);
  });
});
