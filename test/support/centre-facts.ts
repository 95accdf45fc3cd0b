import type { MessageFacts } from '../../services/centre/facts.ts';

/** The facts the centre keeps of one IntelligenceReport of `agency` naming nothing: an entry to store, scan or move. */
export function plainFacts(agency: string, messageId: string): MessageFacts {
  return {
    messageId,
    type: 'IntelligenceReport',
    agency,
    at: Date.now(),
    routes: [],
    nationalities: [],
    documentTypes: [],
    modusOperandi: [],
    migrants: 0,
    children: 0,
    entities: 0,
  };
}
