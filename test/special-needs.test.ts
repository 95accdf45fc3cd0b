import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mayBeChild, specialNeedsConcerns } from '../services/workflows/definitions/special-needs.ts';
import { startWorkflowFixture, until, type WorkflowFixture } from './support/workflows.ts';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const man = { name: { familyName: 'Haddad', givenNames: 'Amir' }, birthDate: '1990-04-02', sex: 'SEX_MALE', nationalities: ['XZZ'] };
const woman = { name: { familyName: 'Okafor', givenNames: 'Grace' }, birthDate: '1996-08-19', sex: 'SEX_FEMALE', nationalities: ['XZZ'] };
const girl = { name: { familyName: 'Okafor', givenNames: 'Ada' }, birthDate: '2014', sex: 'SEX_FEMALE', nationalities: ['XZZ'] };
const boy = { name: { familyName: 'Tesfaye', givenNames: 'Dawit' }, birthDate: '2010-03', sex: 'SEX_MALE', nationalities: ['XZZ'] };

const protection = (subject: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  kind: 'REFERRAL_KIND_PROTECTION',
  summary: 'Rescued at sea; asks for shelter.',
  subject,
  consentRecorded: true,
  consentScope: 'sharing with protection NGO',
  ...extra,
});
const returning = (subject: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  kind: 'REFERRAL_KIND_RETURN',
  summary: 'Wishes to return home.',
  subject,
  consentRecorded: true,
  consentScope: 'assisted return',
  returnCountry: 'XZZ',
  ...extra,
});

describe('¶10: who a referral concerns (women, children, presumption of minority)', () => {
  it('a person who may be under 18 is a child: a partly known birth date is read at its latest day', () => {
    expect(mayBeChild('2008', NOW)).toBe(true); // may be born on 31 December 2008: 17
    expect(mayBeChild('2008-11', NOW)).toBe(false); // at the latest born on 30 November 2008: 18 today
    expect(mayBeChild('2008-12', NOW)).toBe(true);
    expect(mayBeChild('2008-11-29', NOW)).toBe(false);
    expect(mayBeChild('2008-12-01', NOW)).toBe(true);
    expect(mayBeChild('2007', NOW)).toBe(false);
    expect(mayBeChild('', NOW)).toBe(false);
    expect(mayBeChild('unknown', NOW)).toBe(false);
  });

  it('names the woman, the child and accompanying children; nobody for an adult man travelling alone', () => {
    expect(specialNeedsConcerns({ subject: man }, NOW)).toEqual([]);
    expect(specialNeedsConcerns({ subject: woman }, NOW)).toEqual(['a woman']);
    expect(specialNeedsConcerns({ subject: girl }, NOW)).toEqual(['a woman', 'a child']);
    expect(specialNeedsConcerns({ subject: man, unaccompaniedMinor: true }, NOW)).toEqual(['an unaccompanied child']);
    expect(specialNeedsConcerns({ subject: man, accompanyingChildren: 2 }, NOW)).toEqual(['accompanying children']);
  });
});

describe('¶10: the special needs of women and children are checked in every protection and return referral (real exchange)', () => {
  let fx: WorkflowFixture;

  beforeAll(async () => {
    fx = await startWorkflowFixture('wf-special-needs', ['xa-border-police', 'xa-ngo-harbour', 'xb-return']);
  });
  afterAll(async () => fx?.stop());

  async function refused(id: string): Promise<string> {
    const police = fx.party('xa-border-police');
    await until(() => police.notices('WorkflowRejection').some((r) => r.causeMessageId === id), 8_000, `rejection of ${id}`);
    const r = police.notices('WorkflowRejection').find((x) => x.causeMessageId === id)!;
    expect(r.code).toBe('ERR_WORKFLOW_GUARD');
    expect(fx.caseOf(`case-referral.${id}`)).toBeUndefined();
    return String(r.reason);
  }

  it('protection and return referrals of a woman or a child without special needs are refused; stated, they open', async () => {
    const send = (body: Record<string, unknown>, to = 'xa-ngo-harbour') => fx.party('xa-border-police').client.send('CaseReferral', body, { to });
    const cases: [Record<string, unknown>, string, string][] = [
      [protection(woman), 'xa-ngo-harbour', 'a protection referral concerning a woman must state the special needs of women and children'],
      [protection(boy), 'xa-ngo-harbour', 'concerning a child'],
      [protection(man, { unaccompaniedMinor: true }), 'xa-ngo-harbour', 'concerning an unaccompanied child'],
      [protection(man, { accompanyingChildren: 1 }), 'xa-ngo-harbour', 'concerning accompanying children'],
      // A woman returning alone: before, only a child made the return referral state special needs.
      [returning(woman), 'xb-return', 'a return referral concerning a woman'],
    ];
    const sent = await Promise.all(cases.map(([body, to]) => send(body, to)));
    for (const [i, msg] of sent.entries()) {
      const reason = await refused(msg.id);
      expect(reason).toContain(cases[i]![2]);
      expect(reason).toContain('(¶10)');
    }

    // The same referrals with the needs stated ("none identified" counts as stated) open their cases.
    for (const [body, to] of cases) {
      const ok = await send({ ...body, specialNeeds: ['none identified'] }, to);
      await fx.caseIn(`case-referral.${ok.id}`, 'referred');
    }
    // An adult man travelling alone needs no statement; nor does a prosecution referral, which is not about care.
    const alone = await send(protection(man));
    await fx.caseIn(`case-referral.${alone.id}`, 'referred');
    const prosecution = await fx.party('xa-ngo-harbour').client.send('CaseReferral', { kind: 'REFERRAL_KIND_INVESTIGATION', summary: 'Victim wishes to file a complaint.', subject: woman }, { to: 'xa-border-police' });
    await fx.caseIn(`case-referral.${prosecution.id}`, 'referred');
  });
});
