/**
 * CSV import of a national registry's export (issue 3, bulk upload): a small streaming RFC 4180 parser and the
 * mapping of the documented columns to DocumentReport bodies.
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
import { LiaisonError } from '../../sdk/errors.ts';
import { normaliseBirthDate, normaliseCountry, normaliseDocumentNumber } from '../index/normalise.ts';

/** One CSV record: its fields and the file line it starts on (1-based). */
export interface CsvRecord {
  line: number;
  fields: string[];
  /** Set when the record is malformed (unterminated quote, text after a closing quote). */
  error?: string;
}

/**
 * An incremental RFC 4180 parser: feed it text chunks with {@link push}, then call {@link end}. Handles quoted
 * fields (commas, line breaks and `""` escapes inside), CRLF and LF line ends and a leading BOM; blank lines are
 * skipped (but counted). Unquoted lines take a fast path (`split(',')`).
 */
export class CsvParser {
  #buf = '';
  #line = 1;
  #started = false;

  /** Parse what `chunk` completes; a record cut by the chunk boundary waits for the next chunk. */
  push(chunk: string): CsvRecord[] {
    this.#buf = this.#buf.length === 0 ? chunk : this.#buf + chunk;
    return this.#drain(false);
  }

  /** Parse the rest (the last record needs no line end). */
  end(): CsvRecord[] {
    return this.#drain(true);
  }

  #drain(final: boolean): CsvRecord[] {
    let buf = this.#buf;
    if (!this.#started) {
      if (buf.length === 0 && !final) return [];
      if (buf.charCodeAt(0) === 0xfeff) buf = buf.slice(1);
      this.#started = true;
    }
    const out: CsvRecord[] = [];
    const len = buf.length;
    let pos = 0;
    let quote = buf.indexOf('"');
    while (pos < len) {
      if (quote !== -1 && quote < pos) quote = buf.indexOf('"', pos);
      const nl = buf.indexOf('\n', pos);
      if (quote === -1 || (nl !== -1 && quote > nl)) {
        // Fast path: no quote before the end of this line.
        if (nl === -1 && !final) break;
        let end = nl === -1 ? len : nl;
        if (end > pos && buf.charCodeAt(end - 1) === 13) end--;
        const text = buf.slice(pos, end);
        if (text.length > 0) out.push({ line: this.#line, fields: text.split(',') });
        this.#line++;
        pos = nl === -1 ? len : nl + 1;
        continue;
      }
      const r = this.#quoted(buf, pos, final);
      if (!r) break;
      out.push(r.record);
      pos = r.next;
    }
    this.#buf = buf.slice(pos);
    return out;
  }

  /** Parse one record that contains a quote, starting at `start`; undefined when it needs more text. */
  #quoted(buf: string, start: number, final: boolean): { record: CsvRecord; next: number } | undefined {
    const len = buf.length;
    const line = this.#line;
    const fields: string[] = [];
    let breaks = 0;
    let i = start;
    let error: string | undefined;
    for (;;) {
      // At the start of a field.
      let field: string;
      if (buf.charCodeAt(i) === 34) {
        field = '';
        let j = i + 1;
        for (;;) {
          const q = buf.indexOf('"', j);
          if (q === -1) {
            if (!final) return undefined;
            field += buf.slice(j);
            breaks += countBreaks(buf, j, len);
            error = 'unterminated quoted field';
            i = len;
            break;
          }
          field += buf.slice(j, q);
          breaks += countBreaks(buf, j, q);
          if (q + 1 >= len && !final) return undefined;
          if (buf.charCodeAt(q + 1) === 34) {
            field += '"';
            j = q + 2;
            continue;
          }
          i = q + 1;
          break;
        }
        const c = buf.charCodeAt(i);
        if (i < len && c !== 44 && c !== 10 && c !== 13) {
          // Text after a closing quote: keep it, but the record is malformed.
          error ??= `unexpected text after a closing quote in field ${fields.length + 1}`;
          let k = i;
          while (k < len && buf.charCodeAt(k) !== 44 && buf.charCodeAt(k) !== 10 && buf.charCodeAt(k) !== 13) k++;
          if (k >= len && !final) return undefined;
          field += buf.slice(i, k);
          i = k;
        }
      } else {
        let k = i;
        while (k < len) {
          const c = buf.charCodeAt(k);
          if (c === 44 || c === 10 || c === 13) break;
          k++;
        }
        if (k >= len && !final) return undefined;
        field = buf.slice(i, k);
        i = k;
      }
      fields.push(field);
      if (i >= len) {
        this.#line += breaks + 1;
        return { record: { line, fields, ...(error ? { error } : {}) }, next: len };
      }
      const c = buf.charCodeAt(i);
      if (c === 44) {
        i++;
        continue;
      }
      // Line end: CRLF, LF or a lone CR.
      if (c === 13 && i + 1 >= len && !final) return undefined;
      const next = c === 13 && buf.charCodeAt(i + 1) === 10 ? i + 2 : i + 1;
      this.#line += breaks + 1;
      return { record: { line, fields, ...(error ? { error } : {}) }, next };
    }
  }
}

function countBreaks(buf: string, from: number, to: number): number {
  let n = 0;
  for (let k = buf.indexOf('\n', from); k !== -1 && k < to; k = buf.indexOf('\n', k + 1)) n++;
  return n;
}

/** Parse a whole CSV text (tests, small files). */
export function parseCsv(text: string): CsvRecord[] {
  const p = new CsvParser();
  return [...p.push(text), ...p.end()];
}

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

/** A row that cannot be imported, by its file line. */
export interface BadRow {
  line: number;
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

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Turn one record into a DocumentReport body (normalised number and country, enum names), or throw
 * `ERR_BODY_INVALID` naming the column.
 */
export function reportBody(record: CsvRecord, columns: ColumnMap): Record<string, unknown> {
  if (record.error) throw new LiaisonError('ERR_BODY_INVALID', record.error, { line: record.line });
  const f = record.fields;
  if (f.length !== columns.width) {
    throw new LiaisonError('ERR_BODY_INVALID', `${f.length} field${f.length === 1 ? '' : 's'}; the header has ${columns.width}`, { line: record.line });
  }
  const ix = columns.index;
  const body: Record<string, unknown> = {
    documentNumber: normaliseDocumentNumber(f[ix.document_number!]!),
    issuingCountry: normaliseCountry(f[ix.issuing_country!]!),
  };
  const type = enumValue(f[ix.document_type!]!, 'DOCUMENT_TYPE_', DOCUMENT_TYPES, 'document_type', false);
  if (type) body.documentType = type;
  body.status = enumValue(f[ix.status!]!, 'DOCUMENT_STATUS_', DOCUMENT_STATUSES, 'status', true);
  for (const column of OPTIONAL_COLUMNS) {
    const i = ix[column];
    if (i === undefined) continue;
    const v = f[i]!.trim();
    if (v === '') continue;
    if ((column === 'issue_date' || column === 'expiry_date') && !DATE.test(v)) {
      throw new LiaisonError('ERR_BODY_INVALID', `${column}: "${v}" is not YYYY-MM-DD`, { field: column });
    }
    if (column === 'holder_birth_date') normaliseBirthDate(v, column);
    body[JSON_NAME[column]!] = column === 'holder_nationality' ? normaliseCountry(v, column) : v;
  }
  return body;
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
        bad.push({ line: record.line, error: (err as Error).message });
      }
    }
    await onRows(good, bad);
  }
  if (!columns) throw new LiaisonError('ERR_BODY_INVALID', `${file} is empty: it needs a header row (${COLUMNS.join(',')})`, { file });
  return { rows };
}
