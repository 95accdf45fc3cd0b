/** One check `liaison doctor` ran: ok, or a problem with what to do about it. */
export interface Finding {
  check: string;
  status: 'ok' | 'warning' | 'error';
  detail: string;
  /** What to do, for warnings and errors. */
  fix?: string;
  /** Figures behind the finding, for `--json` readers (e.g. quarantine counts per agency). */
  data?: Record<string, unknown>;
}

export const ok = (check: string, detail: string): Finding => ({ check, status: 'ok', detail });
export const warn = (check: string, detail: string, fix: string): Finding => ({ check, status: 'warning', detail, fix });
export const fail = (check: string, detail: string, fix: string): Finding => ({ check, status: 'error', detail, fix });

/** Skew beyond which expiry checks and deadlines go wrong. */
export const SKEW_WARN_MS = 5_000;
export const SKEW_ERROR_MS = 60_000;
/** Credentials expiring within this are reported. */
export const EXPIRY_WARN_MS = 7 * 86_400_000;

/** A file mode check (like ssh): 0600 or stricter for private material. */
export function modeFinding(check: string, file: string, mode: number | undefined): Finding {
  if (mode === undefined) return fail(check, `${file} is missing`, `restore it from the enrolment output, or re-enrol (liaison trust enrol --reissue)`);
  if ((mode & 0o077) !== 0) return fail(check, `${file} has mode ${(mode & 0o777).toString(8).padStart(4, '0')}: readable by others`, `chmod 600 ${file}`);
  return ok(check, `${file} is 0${(mode & 0o777).toString(8)}`);
}

/** An expiry check for a credential or JWT. */
export function expiryFinding(check: string, what: string, expMs: number | undefined, now: number, fix: string): Finding {
  if (expMs === undefined) return warn(check, `${what} has no expiry`, fix);
  const left = expMs - now;
  if (left <= 0) return fail(check, `${what} expired at ${new Date(expMs).toISOString()}`, fix);
  if (left < EXPIRY_WARN_MS) return warn(check, `${what} expires at ${new Date(expMs).toISOString()} (in ${Math.ceil(left / 3_600_000)} h)`, fix);
  return ok(check, `${what} valid until ${new Date(expMs).toISOString()}`);
}
