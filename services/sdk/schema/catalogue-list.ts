/**
 * The message catalogue of the contracts (family → short type names). The schema loader checks that
 * every family option names one of these families and that every type listed here exists in its family.
 */
export const MESSAGE_CATALOGUE: Readonly<Record<string, readonly string[]>> = {
  documents: ['DocumentReport', 'DocumentStatusChange', 'DocumentCheckRequest', 'DocumentCheckResult', 'DocumentHitNotice', 'RegistryRefusal', 'DocumentReportBatch', 'ForgeryAlert', 'SpecimenNote'],
  persons: ['PersonAlert', 'PersonCheckRequest', 'PersonCheckResult', 'PersonHitNotice'],
  referrals: ['CaseReferral', 'ReferralAcknowledgement', 'ReferralDecision', 'ReferralUpdate', 'ReferralClosure'],
  legal: ['MutualLegalAssistanceRequest', 'MutualLegalAssistanceResponse', 'ExtraditionRequest', 'ExtraditionResponse'],
  cooperation: ['IntelligenceReport', 'JointInvestigationProposal', 'JointInvestigationResponse', 'BoardingAuthorisationRequest', 'BoardingAuthorisationResponse', 'BoardingInformationSupplement', 'BoardingMeasuresReport', 'PracticeNote'],
  training: ['TrainingOffer', 'EnrolmentRequest', 'EnrolmentDecision', 'TrainingCompleted'],
  analysis: ['CorrelationAlert', 'StrategicReport'],
  workflows: ['WorkflowStateChange', 'WorkflowRejection', 'WorkflowReminder', 'WorkflowEscalation', 'CaseQuery', 'CaseQueryResult'],
  control: ['Retraction', 'RetractionReceipt'],
  finint: ['FinancialIntelligenceReport', 'FinancialIntelligenceRequest', 'DisseminationConsentRequest', 'DisseminationConsentResponse'],
};

/** The package of every Liaison schema type. */
export const PACKAGE = 'liaison.v1';

/** Prefix of type URLs (as google.protobuf.Any uses them). */
export const TYPE_URL_PREFIX = 'type.googleapis.com/';
