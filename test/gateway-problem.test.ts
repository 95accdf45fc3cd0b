import { describe, expect, it } from 'vitest';
import { HTTP_STATUS_OF, problemOf } from '../services/gateway/problem.ts';
import { ERROR_CODES, LiaisonError } from '../services/sdk/errors.ts';

describe('gateway problem details (RFC 9457)', () => {
  it('every Liaison error code has an HTTP status (a new code must be given one)', () => {
    const missing = Object.keys(ERROR_CODES).filter((c) => !(c in HTTP_STATUS_OF));
    expect(missing).toEqual([]);
    const stale = Object.keys(HTTP_STATUS_OF).filter((c) => !(c in ERROR_CODES));
    expect(stale).toEqual([]);
    for (const [code, status] of Object.entries(HTTP_STATUS_OF)) {
      expect(status >= 400 && status < 600, code).toBe(true);
    }
  });

  it('a refusal carries type, title, status, detail, the code and the deciding rule', () => {
    const p = problemOf(new LiaisonError('ERR_POLICY_HANDLING_DENIED', 'roles.ngo.receive[0] does not admit TLP RED', { rule: 'roles.ngo.receive[0]' }));
    expect(p).toEqual({
      type: 'urn:liaison:error:ERR_POLICY_HANDLING_DENIED',
      title: ERROR_CODES.ERR_POLICY_HANDLING_DENIED,
      status: 403,
      detail: 'roles.ngo.receive[0] does not admit TLP RED',
      code: 'ERR_POLICY_HANDLING_DENIED',
      rule: 'roles.ngo.receive[0]',
    });
    expect(problemOf(new LiaisonError('ERR_BODY_INVALID', 'x', { field: 'a.b' })).field).toBe('a.b');
    expect(problemOf(new LiaisonError('ERR_GATEWAY_UNAUTHORIZED', 'no token')).status).toBe(401);
    expect(problemOf(new LiaisonError('ERR_MESSAGE_TOO_LARGE', 'big')).status).toBe(413);
  });
});
