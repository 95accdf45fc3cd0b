import type { ErrorCode } from '../sdk/errors.ts';
import type { ReceivedMessage } from '../sdk/envelope/open.ts';
import type { HandlingCode, TlpLabel } from '../sdk/tier.ts';

/** One scripted send of the demo and what must happen. */
export interface DemoStep {
  title: string;
  from: string;
  type: string;
  body: Record<string, unknown>;
  to?: string;
  handling?: HandlingCode;
  tlp?: TlpLabel;
  caseRef?: string;
  /** 'sent': every recipient the policy names receives it; an error code: the sending SDK refuses it. */
  expect: 'sent' | ErrorCode;
  /** Agencies that must not receive it. */
  mustNotSee?: string[];
  check?: (agency: string, msg: ReceivedMessage) => boolean;
  checkLabel?: string;
}

const CASE = 'XA-2026-0419';

const VESSEL_REPORT = {
  summary: 'Fishing vessel intercepted 40 nm south of Port Xandria with 61 persons on board; organisers paid in advance.',
  route: { origin: 'XCC', transit: ['XBB'], destination: 'XAA', description: 'Corvenia → Bellmark coast → Xandria' },
  modusOperandi: ['overcrowded fishing vessel', 'satellite phone to coordinator', 'fraudulent passports issued in advance'],
  vessel: { name: 'STELLA MARIS II', imoNumber: 'IMO9123456', flagState: 'XBB' },
  sourceDescription: 'Crew member interviewed after rescue; identity protected.',
};

/** The demo's script: ¶16 registry reports, ¶14 intelligence, ¶15/¶10 protection, ¶13 MLA, ¶17 analysis, and refusals. */
export const SCRIPT: DemoStep[] = [
  {
    title: '¶16 — xa-border-police reports a fraudulent passport found at the port (broadcast)',
    from: 'xa-border-police',
    type: 'DocumentReport',
    caseRef: CASE,
    body: {
      documentNumber: 'XA4417702',
      issuingCountry: 'XAA',
      documentType: 'DOCUMENT_TYPE_PASSPORT',
      status: 'DOCUMENT_STATUS_FRAUDULENT',
      holderName: 'Amir Haddad',
      remarks: 'Counterfeit data page; seized on disembarkation.',
    },
    expect: 'sent',
    mustNotSee: ['xa-ngo-harbour'],
  },
  {
    title: '¶14, ¶18 — xa-coast-guard shares vessel intelligence (broadcast, TLP:AMBER)',
    from: 'xa-coast-guard',
    type: 'IntelligenceReport',
    caseRef: CASE,
    tlp: 'AMBER',
    body: VESSEL_REPORT,
    expect: 'sent',
    mustNotSee: ['xa-ngo-harbour', 'xb-return'],
  },
  {
    title: '¶15, ¶10 — xa-border-police refers a rescued migrant to the NGO for protection (directed)',
    from: 'xa-border-police',
    type: 'CaseReferral',
    to: 'xa-ngo-harbour',
    caseRef: CASE,
    tlp: 'AMBER',
    body: {
      kind: 'REFERRAL_KIND_PROTECTION',
      summary: 'Woman travelling with a child, injured during the crossing; requests protection.',
      consentRecorded: true,
      specialNeeds: ['pregnant', 'accompanied child under 5'],
      criminalIntelligence: 'Identified the boat organiser from photographs.',
    },
    expect: 'sent',
    check: (_agency, msg) => msg.header.tier === 'personal' && !('criminalIntelligence' in msg.body),
    checkLabel: 'the NGO copy is at the personal tier and carries no special-tier field',
  },
  {
    title: '¶13, ¶9(c) — xa-prosecutor asks Bellmark for mutual legal assistance, incl. freezing of proceeds',
    from: 'xa-prosecutor',
    type: 'MutualLegalAssistanceRequest',
    to: 'xb-prosecutor',
    caseRef: CASE,
    handling: 'H2',
    body: {
      legalBasis: 'UNTOC art. 18; Smuggling of Migrants Protocol art. 6',
      summary: 'Bank records and freezing of accounts used to collect smuggling fees.',
      measures: ['MEASURE_BANK_RECORDS', 'MEASURE_FREEZING'],
      assets: [{ kind: 'bank account', description: 'two accounts at a Bellmark savings bank receiving the fees', identifier: 'XB00 1234 5678 9012', estimatedValue: '4800000', currency: 'EUR' }],
      urgency: 'URGENCY_URGENT',
    },
    expect: 'sent',
  },
  {
    title: '¶17 — mac-centre publishes a strategic report (broadcast)',
    from: 'mac-centre',
    type: 'StrategicReport',
    body: { title: 'Central Mediterranean route, November 2026', summary: 'Interceptions up; fraudulent Xandrian passports recurring.' },
    expect: 'sent',
  },
  {
    title: 'Refused by the sending SDK: the NGO may not send intelligence',
    from: 'xa-ngo-harbour',
    type: 'IntelligenceReport',
    body: VESSEL_REPORT,
    expect: 'ERR_POLICY_SEND_DENIED',
  },
  {
    title: 'Refused by the sending SDK: the NGO does not accept TLP:RED referrals',
    from: 'xa-border-police',
    type: 'CaseReferral',
    to: 'xa-ngo-harbour',
    tlp: 'RED',
    body: { kind: 'REFERRAL_KIND_PROTECTION', summary: 'Second referral.' },
    expect: 'ERR_POLICY_HANDLING_DENIED',
  },
];
