import { isLiaisonError, type ErrorCode } from '../../services/sdk/errors.ts';

/** The typed error code `fn` throws, or 'accepted'; an untyped throw fails the test (it is rethrown). */
export function codeOf(fn: () => unknown): ErrorCode | 'accepted' {
  try {
    fn();
    return 'accepted';
  } catch (err) {
    if (!isLiaisonError(err)) throw err;
    return err.code;
  }
}

/** The typed error code `p` rejects with, or 'accepted'; an untyped rejection fails the test (it is rethrown). */
export async function codeOfAsync(p: Promise<unknown>): Promise<ErrorCode | 'accepted'> {
  try {
    await p;
    return 'accepted';
  } catch (err) {
    if (!isLiaisonError(err)) throw err;
    return err.code;
  }
}
