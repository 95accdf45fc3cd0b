import { join } from 'node:path';
import { explainMessage, type MessageExplanation } from '../audit/explain.ts';
import { decodeEntry, readLedger, verifyLedger } from '../audit/index.ts';
import { readAuditPublicKey } from '../trust/audit-key.ts';
import { note, now, type RunContext } from './context.ts';

/**
 * At the end of a run: flush the audit ledger, sign a checkpoint, verify the whole chain with the
 * federation's audit key (as `liaison audit verify` does) and emit the ledger's state with the verdict.
 * A ledger that cannot be read now is a note, not a failure of the run.
 */
export async function verifyAudit(ctx: RunContext): Promise<void> {
  try {
    await verifyNow(ctx);
  } catch (err) {
    // The ledger's verdict is shown, never a reason to fail the scenario's run.
    note(ctx, `the audit ledger could not be verified now: ${(err as Error).message.split('\n')[0]}`);
  }
}

async function verifyNow(ctx: RunContext): Promise<void> {
  const ex = ctx.exchange;
  if (!ex?.audit) return;
  // A ledger still catching up (a loaded machine) is verified as far as it goes: the entries after the flush are its concern.
  const behind = await ex.audit.flush(30_000).then(
    () => '',
    (err: unknown) => (err as Error).message,
  );
  if (behind) note(ctx, `the audit ledger is still catching up (${behind}); verifying the entries written so far`);
  await ex.audit.checkpoint();
  const pub = await readAuditPublicKey(join(ctx.work, 'trust'));
  const report = verifyLedger(await readLedger(ex.admin), { publicKey: pub.key, kid: pub.jwk.kid ?? '' });
  const s = ex.audit.stats();
  const entries = Object.fromEntries(Object.entries(s.appended).map(([k, v]) => [k, v ?? 0]));
  ctx.emit({
    kind: 'audit',
    sim: now(ctx),
    step: ctx.step,
    head: s.head,
    checkpoints: report.checkpoints,
    entries,
    verified: { ok: report.ok, entries: report.entries, checkpoints: report.checkpoints, uncovered: report.uncovered, problems: report.problems.map((p) => `entry ${p.entry ?? '?'}: ${p.kind}: ${p.message}`) },
  });
}

/** What the run's audit ledger says of message `id` (of `sender`, when given), as `liaison explain` reads it. */
export async function explainFromLedger(ctx: RunContext, id: string, sender?: string): Promise<MessageExplanation[]> {
  const ex = ctx.exchange;
  if (!ex?.audit) return [];
  // What the ledger holds now: a ledger still catching up answers for the entries written so far.
  await ex.audit.flush(5_000).catch(() => undefined);
  const entries = (await readLedger(ex.admin)).flatMap((s) => {
    try {
      return [decodeEntry(s.data)];
    } catch {
      return [];
    }
  });
  return explainMessage(entries, id, sender);
}
