import { headers as natsHeaders, type Msg, type Subscription } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LiaisonClient } from '../services/sdk/client/client.ts';
import { BUSY_HEADER, BUSY_STATEMENT_WINDOW_MS, signBusyStatement } from '../services/sdk/client/busy-statement.ts';
import { SERVICE_ERROR_CODE_HEADER, SERVICE_ERROR_HEADER, type Serving } from '../services/sdk/client/rpc.ts';
import type { RequestAdmission } from '../services/sdk/client/serve-admission.ts';
import { isLiaisonError } from '../services/sdk/errors.ts';
import { serviceSubject } from '../services/sdk/subjects.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';

const CHECK = { documentNumber: 'XA5550001', issuingCountry: 'XAA' };
const POLICE = 'xa-border-police';
const NCB = 'xc-ncb';

/** The code a check ended in (a check never succeeds here), and its message. */
async function refusal(client: LiaisonClient): Promise<{ code: string; message: string }> {
  try {
    await client.request('DocumentCheckRequest', CHECK, { to: NCB, timeoutMs: 8_000 });
    return { code: 'answered', message: '' };
  } catch (err) {
    return isLiaisonError(err) ? { code: err.code, message: err.message } : { code: `untyped: ${String(err)}`, message: '' };
  }
}

describe('signed busy statements: a refusal the service vouches for, at no signature per request (issue 16)', () => {
  let fed: TestFederation;
  let police: LiaisonClient;
  let ncb: LiaisonClient;
  let serving: Serving | undefined;
  let raw: Subscription | undefined;

  beforeAll(async () => {
    fed = await createTestFederation({ agencies: [POLICE, 'xb-police', NCB], name: 'busy-statement' });
    police = await fed.connect(POLICE);
    ncb = await fed.connect(NCB);
  });
  afterEach(async () => {
    await serving?.stop();
    raw?.unsubscribe();
    serving = undefined;
    raw = undefined;
  });
  afterAll(async () => {
    await police?.close();
    await ncb?.close();
    await fed?.stop();
  });

  it('every request refused on arrival gets ERR_BUSY with the reason, believed from one statement the service signed per window — not one signature per refusal', async () => {
    const everyone: RequestAdmission = { admit: () => ({ busy: 'the bureau is closed for the test' }), release: () => undefined };
    serving = await ncb.serve({ DocumentCheckRequest: () => ({ type: 'DocumentCheckResult', body: { outcome: 'CHECK_OUTCOME_NO_HIT' } }) }, { admission: everyone });
    const subject = serviceSubject('documents', 'DocumentCheckRequest', POLICE);
    const statements = new Set<string>();
    const t0 = Date.now();
    const n = 40;
    await Promise.all(
      Array.from({ length: n }, async () => {
        const copy = police.seal('DocumentCheckRequest', CHECK, { to: NCB }).copies[0]!;
        const h = natsHeaders();
        for (const [k, v] of Object.entries(copy.headers)) h.set(k, v);
        const m = await police.nc.request(subject, copy.data, { headers: h, timeout: 8_000 });
        expect(m.headers?.get(SERVICE_ERROR_HEADER)).toMatch(/^ERR_BUSY: the bureau is closed/);
        statements.add(m.headers?.get(BUSY_HEADER) ?? '');
      }),
    );
    // One statement per window (re-signed only when the window passed: bounded by the time the burst took).
    expect(statements.has('')).toBe(false);
    expect(statements.size).toBeLessThanOrEqual(1 + Math.floor((Date.now() - t0) / BUSY_STATEMENT_WINDOW_MS));
    // Through the SDK the requester verifies it and raises ERR_BUSY with the signed reason.
    const r = await refusal(police);
    expect(r.code).toBe('ERR_BUSY');
    expect(r.message).toMatch(/xc-ncb refused to answer now \(busy, signed statement of .*\): the bureau is closed for the test/);
  });

  /** The bureau's account answers every check with ERR_BUSY and the given busy header (absent: none). */
  const answerBusyWith = async (statement: () => string | undefined) => {
    raw = ncb.nc.subscribe(serviceSubject('documents', 'DocumentCheckRequest', '*'), {
      callback: (_e, m: Msg) => {
        const h = natsHeaders();
        h.set(SERVICE_ERROR_HEADER, 'ERR_BUSY: believe me');
        h.set(SERVICE_ERROR_CODE_HEADER, '503');
        const s = statement();
        if (s !== undefined) h.set(BUSY_HEADER, s);
        m.respond(new Uint8Array(0), { headers: h });
      },
    });
    await ncb.nc.flush();
  };

  it('a busy refusal without a valid, current statement of the service is not believed: unsigned, foreign-signed, tampered, speaking for another, expired — each a typed error other than ERR_BUSY; the genuine one is ERR_BUSY', async () => {
    const now = () => Date.now();
    const ncbKey = ncb.identity.key;
    const genuine = () => signBusyStatement({ service: NCB, reason: 'busy indeed', iat: now(), exp: now() + 4_000 }, ncbKey);
    const cases: [string, () => string | undefined, string][] = [
      ['unsigned (no statement)', () => undefined, 'ERR_SIGNATURE_INVALID'],
      ['not a JWS', () => 'busy.busy', 'ERR_SIGNATURE_INVALID'],
      ['signed by the requester’s own key (not a key of the service)', () => signBusyStatement({ service: NCB, reason: 'forged', iat: now(), exp: now() + 4_000 }, police.identity.key), 'ERR_KEY_UNKNOWN'],
      [
        'a genuine statement with its reason changed',
        () => {
          const [p, , sig] = genuine().split('.');
          const claims = { typ: 'liaison-busy', service: NCB, reason: 'go away for an hour', iat: now(), exp: now() + 4_000 };
          return `${p}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`;
        },
        'ERR_SIGNATURE_INVALID',
      ],
      ['signed by the service but speaking for another agency', () => signBusyStatement({ service: 'xb-police', reason: 'busy', iat: now(), exp: now() + 4_000 }, ncbKey), 'ERR_SIGNATURE_INVALID'],
      ['signed by the service a minute ago (expired: a replay)', () => signBusyStatement({ service: NCB, reason: 'busy then', iat: now() - 60_000, exp: now() - 56_000 }, ncbKey), 'ERR_MESSAGE_EXPIRED'],
      ['the genuine, current statement', genuine, 'ERR_BUSY'],
    ];
    const seen: Record<string, string> = {};
    for (const [label, statement] of cases) {
      raw?.unsubscribe();
      await answerBusyWith(statement);
      seen[label] = (await refusal(police)).code;
    }
    expect(seen).toEqual(Object.fromEntries(cases.map(([label, , code]) => [label, code])));
  });
});
