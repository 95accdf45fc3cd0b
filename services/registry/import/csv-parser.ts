/**
 * A streaming RFC 4180 parser in linear time: a state machine that carries a record cut by a chunk boundary
 * over to the next chunk instead of parsing it again, and collects a field's pieces in an array (joined
 * once) instead of growing a string. Any input — escaped quotes, an unbalanced quote, megabytes in one
 * field — costs time proportional to its length.
 *
 * @module
 */

/** One CSV record: its fields and the file line it starts on (1-based). */
export interface CsvRecord {
  line: number;
  fields: string[];
  /** Set when the record is malformed (unterminated quote, text after a closing quote). */
  error?: string;
}

const QUOTE = 34;
const COMMA = 44;
const LF = 10;
const CR = 13;

/** Where the parser is: before a field, inside an unquoted or quoted one, just after a quote inside quotes, after a CR. */
type State = 'field' | 'unquoted' | 'quoted' | 'quote' | 'cr';

/**
 * An incremental RFC 4180 parser: feed it text chunks with {@link push}, then call {@link end}. Handles quoted
 * fields (commas, line breaks and `""` escapes inside), CRLF, LF and lone CR line ends and a leading BOM; blank
 * lines are skipped (but counted). Lines without a quote take a fast path (`split(',')`).
 */
export class CsvParser {
  #line = 1;
  #started = false;
  #state: State = 'field';
  #recordLine = 1;
  #fields: string[] = [];
  #parts: string[] = [];
  /** The current record holds a character besides its line end (a quote, a comma, text): a blank line does not. */
  #inRecord = false;
  #error: string | undefined;

  /** Parse what `chunk` completes; a record cut by the chunk boundary continues with the next chunk. */
  push(chunk: string): CsvRecord[] {
    if (!this.#started) {
      if (chunk.length === 0) return [];
      this.#started = true;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    const out: CsvRecord[] = [];
    this.#scan(chunk, out);
    return out;
  }

  /** Parse the rest (the last record needs no line end). */
  end(): CsvRecord[] {
    const out: CsvRecord[] = [];
    if (this.#state === 'quoted') this.#error ??= 'unterminated quoted field';
    if (this.#state !== 'cr' && (this.#inRecord || this.#fields.length > 0)) {
      this.#endField();
      this.#endRecord(out);
    }
    this.#state = 'field';
    return out;
  }

  #scan(s: string, out: CsvRecord[]): void {
    const len = s.length;
    let i = 0;
    // The next quote and line feed at or after i, each found once and reused (so the scans stay linear).
    let nextQuote = -2;
    let nextLf = -2;
    while (i < len) {
      switch (this.#state) {
        case 'cr':
          if (s.charCodeAt(i) === LF) i++;
          this.#state = 'field';
          break;
        case 'field': {
          if (!this.#inRecord && this.#fields.length === 0) {
            if (nextQuote !== -1 && nextQuote < i) nextQuote = s.indexOf('"', i);
            if (nextLf !== -1 && nextLf < i) nextLf = s.indexOf('\n', i);
            const fast = this.#fastLine(s, i, nextLf, nextQuote, out);
            if (fast !== -1) {
              i = fast;
              break;
            }
          }
          if (s.charCodeAt(i) === QUOTE) {
            this.#inRecord = true;
            this.#state = 'quoted';
            i++;
          } else this.#state = 'unquoted';
          break;
        }
        case 'unquoted':
          i = this.#unquoted(s, i, out);
          break;
        case 'quoted':
          i = this.#quoted(s, i);
          break;
        case 'quote':
          if (s.charCodeAt(i) === QUOTE) {
            this.#parts.push('"');
            this.#state = 'quoted';
            i++;
          } else {
            const c = s.charCodeAt(i);
            if (c !== COMMA && c !== LF && c !== CR) this.#error ??= `unexpected text after a closing quote in field ${this.#fields.length + 1}`;
            this.#state = 'unquoted';
          }
          break;
      }
    }
  }

  /** A whole line without quotes or stray CRs, from a record start: one record; returns where the next line starts, or -1. */
  #fastLine(s: string, i: number, nl: number, nextQuote: number, out: CsvRecord[]): number {
    if (nl === -1 || (nextQuote !== -1 && nextQuote < nl)) return -1;
    const end = nl > i && s.charCodeAt(nl - 1) === CR ? nl - 1 : nl;
    const text = s.slice(i, end);
    if (text.includes('\r')) return -1;
    if (text.length > 0) out.push({ line: this.#line, fields: text.split(',') });
    this.#line++;
    this.#recordLine = this.#line;
    return nl + 1;
  }

  /** The rest of an unquoted field (or text after a closing quote) up to a delimiter; returns the next index. */
  #unquoted(s: string, i: number, out: CsvRecord[]): number {
    const len = s.length;
    let k = i;
    while (k < len) {
      const c = s.charCodeAt(k);
      if (c === COMMA || c === LF || c === CR) break;
      k++;
    }
    if (k > i) {
      this.#parts.push(s.slice(i, k));
      this.#inRecord = true;
    }
    if (k >= len) return len;
    this.#endField();
    const c = s.charCodeAt(k);
    if (c === COMMA) {
      this.#state = 'field';
      this.#inRecord = true;
    } else {
      this.#endRecord(out);
      this.#state = c === CR ? 'cr' : 'field';
    }
    return k + 1;
  }

  /**
   * Inside quotes: take text up to the closing quote (then expect what follows it) or the end of the chunk.
   * Escaped quotes (`""`) are skipped over and unescaped once per piece, not one string each.
   */
  #quoted(s: string, i: number): number {
    const len = s.length;
    let j = i;
    for (;;) {
      const q = s.indexOf('"', j);
      if (q === -1) {
        this.#take(s, i, len);
        return len;
      }
      if (q + 1 < len && s.charCodeAt(q + 1) === QUOTE) {
        j = q + 2;
        continue;
      }
      this.#take(s, i, q);
      this.#state = 'quote';
      return q + 1;
    }
  }

  /** Append quoted text `s[from, to)` (whose quotes are all escaped pairs), counting the line breaks inside it. */
  #take(s: string, from: number, to: number): void {
    if (to <= from) return;
    let piece = s.slice(from, to);
    // split/join: linear in V8, where replaceAll with a million matches is not.
    if (piece.includes('""')) piece = piece.split('""').join('"');
    this.#parts.push(piece);
    for (let k = piece.indexOf('\n'); k !== -1; k = piece.indexOf('\n', k + 1)) this.#line++;
  }

  #endField(): void {
    this.#fields.push(this.#parts.length === 1 ? this.#parts[0]! : this.#parts.join(''));
    this.#parts = [];
  }

  #endRecord(out: CsvRecord[]): void {
    const blank = this.#fields.length === 1 && this.#fields[0] === '' && !this.#inRecord;
    if (!blank) out.push({ line: this.#recordLine, fields: this.#fields, ...(this.#error ? { error: this.#error } : {}) });
    this.#fields = [];
    this.#error = undefined;
    this.#inRecord = false;
    this.#line++;
    this.#recordLine = this.#line;
  }
}

/** Parse a whole CSV text (tests, small files). */
export function parseCsv(text: string): CsvRecord[] {
  const p = new CsvParser();
  return [...p.push(text), ...p.end()];
}
