/** The audit ledger: a tamper-evident hash chain of every exchanged copy, refusal and service request, in JetStream. */
export { CHECKPOINT_TYP, signCheckpoint, verifyCheckpoint } from './checkpoint.ts';
export type { CheckpointClaims } from './checkpoint.ts';
export { decodeEntry, encodeEntry, entrySubject, GENESIS, LEDGER_STREAM, LEDGER_SUBJECTS, sha256 } from './entry.ts';
export type { CheckpointEntry, CopyEntry, CrossFacts, Entry, EntryBody, GapEntry, MissedRequests, QuarantineEntry, QueriesMissedEntry, QueryEntry, ReceiptEntry, StartEntry } from './entry.ts';
export { ensureLedgerStream, ledgerStreamConfig, readChainHead, readLedger } from './ledger-stream.ts';
export type { ChainHead, StoredEntry } from './ledger-stream.ts';
export { formatRow, queryLedger } from './query.ts';
export type { LedgerQuery, QueryRow, Role } from './query.ts';
export { auditedRequestSubjects, startAuditService } from './service.ts';
export type { AuditService, AuditServiceOptions, AuditStats } from './service.ts';
export type { RequestQueueStats } from './request-queue.ts';
export { verifyLedger } from './verify.ts';
export type { Problem, ProblemKind, VerifyReport } from './verify.ts';
