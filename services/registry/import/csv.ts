/**
 * CSV import of a national registry's export (issue 3, bulk upload): streaming records (the linear-time RFC 4180
 * parser of csv-parser.ts) and the mapping of the documented columns to DocumentReport bodies.
 *
 * Columns (header row required, names case-insensitive, any order):
 * `document_number,issuing_country,document_type,status` and optionally
 * `issue_date,expiry_date,holder_name,holder_birth_date,holder_nationality,place,remarks,national_reference`.
 * `document_type` and `status` take the enum names (`DOCUMENT_TYPE_PASSPORT`, `DOCUMENT_STATUS_STOLEN`) or the
 * friendly values (`passport`, `identity card`, `stolen`). A bad row becomes `{ line, error }` (line numbers as in
 * the file, the header is line 1); the other rows still go in.
 *
 * @module
 */
import { createReadStream } from 'node:fs';
import { isLiaisonError, LiaisonError } from '../../sdk/errors.ts';
import { CsvParser, type CsvRecord } from './csv-parser.ts';
import { normaliseBirthDate, normaliseCountry, normaliseDocumentNumber } from '../index/normalise.ts';

export { CsvParser, parseCsv, type CsvRecord } from './csv-parser.ts';

/** Stream a CSV file's records in chunks (64 KiB reads); never holds the whole file. */
export async function* readCsvRecords(file: string): AsyncGenerator<CsvRecord[]> {
  const parser = new CsvParser();
  const stream = createReadStream(file, { encoding: 'utf8', highWaterMark: 64 * 1024 });
  try {
    for await (const chunk of stream) {
      const records = parser.push(chunk as string);
      if (records.length > 0) yield records;
    }
  } catch (err) {
    throw new LiaisonError('ERR_USAGE', `cannot read ${file}: ${(err as Error).message}`, { file });
  }
  const rest = parser.end();
  if (rest.length > 0) yield rest;
}

/** The columns an import file must have. */
export const REQUIRED_COLUMNS = ['document_number', 'issuing_country', 'document_type', 'status'] as const;
/** The columns an import file may have besides the required ones. */
export const OPTIONAL_COLUMNS = [
  'issue_date',
  'expiry_date',
  'holder_name',
  'holder_birth_date',
  'holder_nationality',
  'place',
  'remarks',
  'national_reference',
] as const;
const COLUMNS: readonly string[] = [...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS];
const JSON_NAME: Readonly<Record<string, string>> = Object.fromEntries(COLUMNS.map((c) => [c, c.replace(/_([a-z])/g, (_m, ch: string) => ch.toUpperCase())]));

const DOCUMENT_TYPES = ['PASSPORT', 'IDENTITY_CARD', 'VISA', 'RESIDENCE_PERMIT', 'REFUGEE_TRAVEL_DOCUMENT', 'SEAFARER_ID', 'BLANK'];
const DOCUMENT_STATUSES = ['LOST', 'STOLEN', 'FRAUDULENT', 'RECOVERED', 'CANCELLED'];

/** A row that cannot be imported, by its file line (and the 1-based column of the bad cell, when one is). */
export interface BadRow {
  line: number;
  column?: number;
  error: string;
}

/** A good row: its file line and the DocumentReport body (JSON names, enum names). */
export interface ReportRow {
  line: number;
  body: Record<string, unknown>;
}

/** Where each documented column is in the file's records. */
export interface ColumnMap {
  /** Column name → field index. */
  readonly index: Readonly<Record<string, number>>;
  readonly width: number;
}

/**
 * Read the header record. Throws `ERR_BODY_INVALID` naming unknown, duplicate or missing columns.
 */
export function columnMap(header: CsvRecord): ColumnMap {
  const index: Record<string, number> = {};
  const unknown: string[] = [];
  const duplicate: string[] = [];
  header.fields.forEach((raw, i) => {
    const name = raw.trim().toLowerCase();
    if (!COLUMNS.includes(name)) unknown.push(raw.trim() === '' ? `(empty, column ${i + 1})` : raw.trim());
    else if (name in index) duplicate.push(name);
    else index[name] = i;
  });
  const missing = REQUIRED_COLUMNS.filter((c) => !(c in index));
  const problems = [
    unknown.length ? `unknown column${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}` : '',
    duplicate.length ? `duplicate column${duplicate.length > 1 ? 's' : ''} ${duplicate.join(', ')}` : '',
    missing.length ? `missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}` : '',
  ].filter(Boolean);
  if (problems.length > 0) {
    throw new LiaisonError('ERR_BODY_INVALID', `CSV header (line ${header.line}): ${problems.join('; ')}. Columns: ${COLUMNS.join(',')}`, {
      line: header.line,
      unknown,
      duplicate,
      missing,
    });
  }
  return { index, width: header.fields.length };
}

function enumValue(raw: string, prefix: string, names: readonly string[], column: string, required: boolean): string | undefined {
  const v = raw.trim();
  if (v === '') {
    if (required) throw new LiaisonError('ERR_BODY_INVALID', `${column}: empty`, { field: column });
    return undefined;
  }
  let name = v.toUpperCase().replace(/[\s-]+/g, '_');
  if (name.startsWith(prefix)) name = name.slice(prefix.length);
  if (!names.includes(name)) {
    throw new LiaisonError('ERR_BODY_INVALID', `${column}: "${v}" is not one of ${names.map((n) => n.toLowerCase()).join(', ')}`, { field: column });
  }
  return prefix + name;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A real calendar date `YYYY-MM-DD` (year 1 to 9999), or a typed refusal: `2024-13-01` and `2023-02-29` are not dates. */
function calendarDate(v: string, column: string): string {
  const m = DATE.exec(v);
  const [year, month, day] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
  const days = month >= 1 && month <= 12 ? new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !leap(year) ? 1 : 0) : 0;
  if (!m || year < 1 || day < 1 || day > days) throw new LiaisonError('ERR_BODY_INVALID', `${column}: "${v}" is not a date (YYYY-MM-DD)`, { field: column });
  return v;
}

function leap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/**
 * Control characters (C0, DEL, C1) and bidirectional overrides, which can hide or reorder text in a record.
 * Free-text columns may hold line breaks and tabs; no other column may.
 */
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/;
const CONTROL_OR_BREAK = /[\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/;
const FREE_TEXT: readonly string[] = ['remarks', 'place'];

function checkCharacters(v: string, column: string): void {
  const bad = (FREE_TEXT.includes(column) ? CONTROL : CONTROL_OR_BREAK).exec(v);
  if (bad) {
    const code = `U+${bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
    throw new LiaisonError('ERR_BODY_INVALID', `${column}: control character ${code} at position ${bad.index + 1}`, { field: column });
  }
}

/** Run `fn` for one cell; a refusal is re-thrown located: `line L, column C: …` with details line, column and field. */
function atCell<T>(record: CsvRecord, index: number, column: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof LiaisonError)) throw err;
    throw new LiaisonError(err.code, `line ${record.line}, column ${index + 1}: ${err.message}`, { ...err.details, line: record.line, column: index + 1, field: column }, { cause: err });
  }
}

/**
 * Turn one record into a DocumentReport body (normalised number and country, enum names), or throw
 * `ERR_BODY_INVALID` located by line and column (details `line`, `column`, `field`): a bad value, an impossible
 * date or a control character.
 */
export function reportBody(record: CsvRecord, columns: ColumnMap): Record<string, unknown> {
  if (record.error) throw new LiaisonError('ERR_BODY_INVALID', record.error, { line: record.line });
  const f = record.fields;
  if (f.length !== columns.width) {
    throw new LiaisonError('ERR_BODY_INVALID', `${f.length} field${f.length === 1 ? '' : 's'}; the header has ${columns.width}`, { line: record.line });
  }
  const ix = columns.index;
  const cell = <T>(column: string, fn: (v: string) => T): T => atCell(record, ix[column]!, column, () => {
    const v = f[ix[column]!]!;
    checkCharacters(v, column);
    return fn(v);
  });
  const body: Record<string, unknown> = {
    documentNumber: cell('document_number', (v) => normaliseDocumentNumber(v)),
    issuingCountry: cell('issuing_country', (v) => normaliseCountry(v)),
  };
  const type = cell('document_type', (v) => enumValue(v, 'DOCUMENT_TYPE_', DOCUMENT_TYPES, 'document_type', false));
  if (type) body.documentType = type;
  body.status = cell('status', (v) => enumValue(v, 'DOCUMENT_STATUS_', DOCUMENT_STATUSES, 'status', true));
  for (const column of OPTIONAL_COLUMNS) {
    if (ix[column] === undefined) continue;
    const value = cell(column, (raw) => optionalValue(raw.trim(), column));
    if (value !== undefined) body[JSON_NAME[column]!] = value;
  }
  return body;
}

function optionalValue(v: string, column: string): string | undefined {
  if (v === '') return undefined;
  if (column === 'issue_date' || column === 'expiry_date') return calendarDate(v, column);
  if (column === 'holder_birth_date') normaliseBirthDate(v, column);
  return column === 'holder_nationality' ? normaliseCountry(v, column) : v;
}

/** A refused row: its line, the column of the bad cell, and what is wrong with it (the location is in the fields). */
function badRow(record: CsvRecord, err: unknown): BadRow {
  const column = isLiaisonError(err) && typeof err.details.column === 'number' ? err.details.column : undefined;
  const inner = column !== undefined && err instanceof Error && err.cause instanceof Error ? err.cause.message : (err as Error).message;
  return { line: record.line, ...(column !== undefined ? { column } : {}), error: inner };
}

/**
 * Stream an import file as DocumentReport rows: `onRows` gets the good rows and the bad ones of each chunk, in file
 * order. Throws `ERR_BODY_INVALID` for a bad header (unknown columns named) or an empty file.
 */
export async function readReportRows(file: string, onRows: (good: ReportRow[], bad: BadRow[]) => void | Promise<void>): Promise<{ rows: number }> {
  let columns: ColumnMap | undefined;
  let rows = 0;
  for await (const records of readCsvRecords(file)) {
    const good: ReportRow[] = [];
    const bad: BadRow[] = [];
    for (const record of records) {
      if (!columns) {
        columns = columnMap(record);
        continue;
      }
      rows++;
      try {
        good.push({ line: record.line, body: reportBody(record, columns) });
      } catch (err) {
        bad.push(badRow(record, err));
      }
    }
    await onRows(good, bad);
  }
  if (!columns) throw new LiaisonError('ERR_BODY_INVALID', `${file} is empty: it needs a header row (${COLUMNS.join(',')})`, { file });
  return { rows };
}
