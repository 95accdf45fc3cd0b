import { SUBJECT_ROOT } from '../sdk/subjects.ts';
import { foreignDirectorySubjectOf } from './compile.ts';

/** Where a bridge publishes the peer federation's root-signed directory into this federation (compile.ts). */
export const foreignDirectorySubject = foreignDirectorySubjectOf;

/** What the exchange's directory service listens to for every peer (`liaison.v1.trust.foreign.<peer>`). */
export const FOREIGN_DIRECTORY_SUBJECTS = `${SUBJECT_ROOT}.trust.foreign.*`;
