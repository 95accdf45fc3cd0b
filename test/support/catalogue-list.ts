import type { TypeCatalog } from '../../services/sdk/policy/index.ts';

/**
 * The message catalogue of contracts.md (family → short type names), as a plain list. Tests use it
 * instead of loading the protobuf schemas, so the policy engine can be tested on its own.
 */
export const CATALOGUE: Record<string, string[]> = {
  documents: ['DocumentReport', 'DocumentStatusChange', 'DocumentCheckRequest', 'DocumentCheckResult', 'DocumentHitNotice'],
  persons: ['PersonAlert', 'PersonCheckRequest', 'PersonCheckResult', 'PersonHitNotice'],
  referrals: ['CaseReferral', 'ReferralAcknowledgement', 'ReferralDecision', 'ReferralUpdate', 'ReferralClosure'],
  legal: ['MutualLegalAssistanceRequest', 'MutualLegalAssistanceResponse', 'ExtraditionRequest', 'ExtraditionResponse'],
  cooperation: ['IntelligenceReport', 'JointInvestigationProposal', 'JointInvestigationResponse'],
  training: ['TrainingOffer', 'EnrolmentRequest', 'EnrolmentDecision', 'TrainingCompleted'],
  analysis: ['CorrelationAlert', 'StrategicReport'],
};

/** A {@link TypeCatalog} over {@link CATALOGUE} (or another family → types list). */
export function typeCatalogFromList(list: Record<string, string[]> = CATALOGUE): TypeCatalog {
  const family = new Map<string, string>();
  for (const [f, types] of Object.entries(list)) for (const t of types) family.set(t, f);
  const names = [...family.keys()];
  return { familyOf: (type: string) => family.get(type), types: () => names };
}
