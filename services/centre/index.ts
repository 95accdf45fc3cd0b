/**
 * The multiagency centre (¶17): correlation of what agencies share (tactical links, alerts at each
 * recipient's tier) and strategic reports.
 */
export type { Centre, CentreOptions, CentreReport, CentreStats, ReportRequest } from './service.ts';
export { CENTRE_SKIPPED_TYPES, startCentre } from './service.ts';
export type { EntityKindName, ExtractedContext, ExtractedEntity, Extraction } from './entities.ts';
export { KEY_CONFIDENCE, extractEntities, fieldTier } from './entities.ts';
export type { MessageFacts } from './facts.ts';
export { extractFacts } from './facts.ts';
export type { PlannedAlert } from './alerts.ts';
export { isLink, planAlert } from './alerts.ts';
export type { View } from './visibility.ts';
export { viewOf } from './visibility.ts';
export type { EntityRecord, Occurrence, StoredEntity } from './store.ts';
export { CorrelationStore, MAX_OCCURRENCES, entityHash } from './store.ts';
export type { Dimension, FigureOptions, FigureRow, ReportBodyOptions, StrategicFigures } from './report.ts';
export { DEFAULT_PERIOD_MS, DIMENSIONS, buildFigures, composeReport, reportBody } from './report.ts';
export type { ReportFormat } from './render.ts';
export { REPORT_FORMATS, renderCsv, renderHtml, renderReport } from './render.ts';
