import type { WorkflowDefinition } from '../model.ts';
import { boarding } from './boarding.ts';
import { caseReferral } from './referral.ts';
import { extradition } from './extradition.ts';
import { fiuConsent } from './fiu-consent.ts';
import { jointInvestigation } from './joint-investigation.ts';
import { mlaRequest } from './mla.ts';
import { training } from './training.ts';

/** Every workflow the case registry tracks. Add a workflow by adding a definition here. */
export const DEFINITIONS: readonly WorkflowDefinition[] = [caseReferral, mlaRequest, extradition, jointInvestigation, training, fiuConsent, boarding];

export { boarding, caseReferral, extradition, fiuConsent, jointInvestigation, mlaRequest, training };
