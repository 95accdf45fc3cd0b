import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../services/simulator/demo.ts';

describe('npm start: the demo', () => {
  it('plays the scenario against its own exchange, every expectation holds, and it leaves nothing behind', async () => {
    const before = new Set((await readdir(tmpdir())).filter((d) => d.startsWith('liaison-demo-')));
    const lines: string[] = [];
    const result = await runDemo({ out: (l) => lines.push(l) });
    expect(result.failures).toEqual([]);
    const text = lines.join('\n');
    expect(text).toContain('All expectations held.');
    // Field-level access: the NGO's copy of the referral is personal, the centre's document report operational.
    expect(result.saw['xa-ngo-harbour']?.CaseReferral).toBe('personal');
    expect(result.saw['mac-centre']?.DocumentReport).toBe('operational');
    expect(result.saw['xa-ngo-harbour']?.IntelligenceReport).toBeUndefined();
    // Refusals by the SDK, the broker and a receiver all appear.
    expect(result.refusals.ERR_POLICY_SEND_DENIED).toBe(1);
    expect(result.refusals['NATS Permissions Violation']).toBe(4);
    expect(result.refusals.ERR_SIGNATURE_INVALID).toBe(1);
    const after = (await readdir(tmpdir())).filter((d) => d.startsWith('liaison-demo-') && !before.has(d));
    expect(after).toEqual([]);
  }, 60_000);
});
