import { existsSync } from 'node:fs';
import { readAgreementInput, readSignedAgreement, withSignature, writeSignedAgreement, type AgreementInput } from '../../bridge/agreement/file.ts';
import { parseAgreement } from '../../bridge/agreement/load.ts';
import type { Agreement } from '../../bridge/agreement/model.ts';
import { readOwnFederation } from '../../bridge/agreement/own.ts';
import { signAgreement, signerOf, verifyAgreement } from '../../bridge/agreement/sign.ts';
import { compileBridgeSide, routeSendTiers, type BridgeSide, type CrossRoute } from '../../bridge/compile.ts';
import { typeCatalogOf } from '../../sdk/client/type-catalog.ts';
import { LiaisonError } from '../../sdk/errors.ts';
import { loadPolicyFile, parsePolicy, type Policy, type TypeCatalog } from '../../sdk/policy/index.ts';
import { loadCatalog } from '../../sdk/schema/index.ts';
import { loadSigningKey } from '../../sdk/trust/key-file.ts';
import { trustPaths } from '../../sdk/trust/paths.ts';
import { need, str, type CliIo, type Command, type ParsedArgs } from '../args.ts';

/**
 * `liaison bridge agreement check|sign|verify|explain`: a cross-federation agreement (issue 17, bridge design §3–4)
 * from its YAML to both roots' signatures, and what one federation's side of it admits under its own policy.
 *
 * @module
 */

let loaded: TypeCatalog | undefined;
const catalog = (): TypeCatalog => (loaded ??= typeCatalogOf(loadCatalog()));

function oneFile(args: ParsedArgs, usage: string): string {
  if (args.positionals.length !== 1) throw new LiaisonError('ERR_USAGE', `expected one file argument (usage: ${usage})`);
  return args.positionals[0]!;
}

function describeAgreement(a: Agreement): string {
  return `agreement ${a.id} between ${a.federations[0].name} and ${a.federations[1].name}, ${a.flows.length} flow${a.flows.length === 1 ? '' : 's'}, expires ${a.expiresAt.toISOString()} (${a.hash})`;
}

function printSide(side: BridgeSide, io: CliIo): void {
  for (const i of side.issues) io.out(`  issue: ${i}`);
  for (const n of side.notes) io.out(`  note:  ${n}`);
}

const check: Command = {
  path: ['bridge', 'agreement', 'check'],
  summary: "validate a cross-federation agreement (YAML or signed); with --policy, what each side's policy honours (exit 1 when a flow is left out)",
  usage: 'liaison bridge agreement check FILE [--policy POLICY [--self NAME]] [--json]',
  options: { policy: { type: 'string' }, self: { type: 'string' }, json: { type: 'boolean' } },
  allowPositionals: true,
  async run(args, io) {
    const file = oneFile(args, check.usage);
    const policyFile = str(args, 'policy');
    if (str(args, 'self') && !policyFile) throw new LiaisonError('ERR_USAGE', `--self needs --policy (usage: ${check.usage})`);
    const agreement = parseAgreement((await readAgreementInput(file)).text, file, { catalog: catalog() });
    const policy = policyFile ? await loadPolicyFile(policyFile, catalog()) : undefined;
    const names = str(args, 'self') ? [str(args, 'self')!] : agreement.federations.map((f) => f.name);
    const sides = policy ? names.map((n) => compileBridgeSide(agreement, n, policy, catalog())) : [];
    const issues = sides.reduce((n, s) => n + s.issues.length, 0);
    if (args.values.json) {
      io.out(JSON.stringify({ valid: true, id: agreement.id, hash: agreement.hash, expiresAt: agreement.expiresAt.toISOString(), sides: sides.map((s) => ({ self: s.self, issues: s.issues, notes: s.notes })) }));
      return issues ? 1 : 0;
    }
    io.out(`ok  ${describeAgreement(agreement)}`);
    for (const s of sides) {
      io.out(`${s.self} under policy ${policy!.name}: ${s.outbound.length} outbound, ${s.inbound.length} inbound route(s); ${s.issues.length} left out`);
      printSide(s, io);
    }
    return issues ? 1 : 0;
  },
};

const sign: Command = {
  path: ['bridge', 'agreement', 'sign'],
  summary: "sign an agreement with this federation's root: adds or replaces its signature in FILE.signed.json (or --out)",
  usage: 'liaison bridge agreement sign FILE --trust DIR [--out SIGNED]',
  options: { trust: { type: 'string' }, out: { type: 'string' } },
  required: ['trust'],
  allowPositionals: true,
  async run(args, io) {
    const file = oneFile(args, sign.usage);
    const trust = need(args, 'trust');
    const input = await readAgreementInput(file);
    const out = str(args, 'out') ?? (input.signed ? file : `${file}.signed.json`);
    const own = await readOwnFederation(trust);
    const key = await loadSigningKey(trustPaths(trust).rootKey);
    const agreement = parseAgreement(input.text, file, { catalog: catalog() });
    const party = signerOf(agreement, key.publicJwk);
    if (!party || party.name !== own.name) {
      throw new LiaisonError('ERR_AGREEMENT_INVALID', `agreement ${agreement.id} does not name ${own.name}'s root key for ${own.name}${party ? ` (it names it for ${party.name})` : ''}: refusing to sign`, { agreement: agreement.id });
    }
    const jws = await signAgreement(input.text, key, { catalog: catalog() });
    const existing = out === file ? input.signed : existsSync(out) ? await readSignedAgreement(out) : undefined;
    const doc = withSignature(existing, input.text, own.name, jws);
    await writeSignedAgreement(out, doc);
    const missing = agreement.federations.map((f) => f.name).filter((n) => !doc.signatures[n]);
    io.out(`signed agreement ${agreement.id} as ${own.name} → ${out} (${missing.length ? `still needs the signature of ${missing.join(', ')}` : 'signed by both roots'})`);
    return 0;
  },
};

const verify: Command = {
  path: ['bridge', 'agreement', 'verify'],
  summary: "verify a signed agreement from this federation's side: both roots' signatures over its text, this root named, not expired",
  usage: 'liaison bridge agreement verify SIGNED --trust DIR [--json]',
  options: { trust: { type: 'string' }, json: { type: 'boolean' } },
  required: ['trust'],
  allowPositionals: true,
  async run(args, io) {
    const file = oneFile(args, verify.usage);
    const own = await readOwnFederation(need(args, 'trust'));
    const agreement = verifyAgreement(await readSignedAgreement(file), { federation: own.name, root: own.root }, new Date(), { file, catalog: catalog() });
    if (args.values.json) io.out(JSON.stringify({ verified: true, id: agreement.id, self: own.name, hash: agreement.hash, expiresAt: agreement.expiresAt.toISOString() }));
    else io.out(`verified ${describeAgreement(agreement)}: signed by both roots, ${own.name}'s own named`);
    return 0;
  },
};

/** The agreement and the side's policy and name an explain asks about: from a trust dir (signed files verified) or --policy/--self. */
async function explainInputs(args: ParsedArgs, file: string, input: AgreementInput): Promise<{ agreement: Agreement; policy: Policy; self: string; verified: boolean }> {
  const trust = str(args, 'trust');
  if (trust) {
    const own = await readOwnFederation(trust);
    const policy = parsePolicy(own.policyText, { file: `${trust}:directory policy`, catalog: catalog() });
    const agreement = input.signed
      ? verifyAgreement(input.signed, { federation: own.name, root: own.root }, new Date(), { file, catalog: catalog() })
      : parseAgreement(input.text, file, { catalog: catalog() });
    return { agreement, policy, self: own.name, verified: input.signed !== undefined };
  }
  return { agreement: parseAgreement(input.text, file, { catalog: catalog() }), policy: await loadPolicyFile(need(args, 'policy'), catalog()), self: need(args, 'self'), verified: false };
}

function routeRows(routes: CrossRoute[], outbound: boolean): string[][] {
  return routes.map((r) => [r.sender, r.recipient, r.type, (outbound ? routeSendTiers(r) : [r.tier]).join(', '), r.flow]);
}

function table(rows: string[][]): string[] {
  const head = ['SENDER', 'RECIPIENT', 'TYPE', 'TIER', 'FLOW'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`);
}

const explain: Command = {
  path: ['bridge', 'agreement', 'explain'],
  summary: "who may send what to whom across an agreement, at which tier, both directions, under this side's policy (and what is left out)",
  usage: 'liaison bridge agreement explain SIGNED|FILE (--trust DIR | --policy POLICY --self NAME) [--peer-policy POLICY] [--json]',
  options: { trust: { type: 'string' }, policy: { type: 'string' }, self: { type: 'string' }, 'peer-policy': { type: 'string' }, json: { type: 'boolean' } },
  allowPositionals: true,
  async run(args, io) {
    const file = oneFile(args, explain.usage);
    if (!str(args, 'trust') && (!str(args, 'policy') || !str(args, 'self'))) throw new LiaisonError('ERR_USAGE', `give --trust DIR, or --policy POLICY and --self NAME (usage: ${explain.usage})`);
    const { agreement, policy, self, verified } = await explainInputs(args, file, await readAgreementInput(file));
    const peerPolicyFile = str(args, 'peer-policy');
    const peerPolicy = peerPolicyFile ? await loadPolicyFile(peerPolicyFile, catalog()) : undefined;
    const side = compileBridgeSide(agreement, self, policy, catalog(), peerPolicy ? { peerPolicy } : {});
    if (args.values.json) {
      io.out(JSON.stringify({ id: agreement.id, self, peer: side.peer, verified, outbound: side.outbound, inbound: side.inbound, issues: side.issues, notes: side.notes }));
      return 0;
    }
    io.out(`${describeAgreement(agreement)}${verified ? '; signatures verified' : '; signatures not checked'}`);
    io.out(`seen from ${self} (policy ${policy.name}${peerPolicy ? `; ${side.peer}'s policy ${peerPolicy.name}` : ''}); tiers are the copies sealed (outbound) or delivered (inbound)`);
    io.out(`outbound (${self} → ${side.peer}):`);
    for (const l of side.outbound.length ? table(routeRows(side.outbound, true)) : ['  none']) io.out(l);
    io.out(`inbound (${side.peer} → ${self}):`);
    for (const l of side.inbound.length ? table(routeRows(side.inbound, false)) : ['  none']) io.out(l);
    printSide(side, io);
    return 0;
  },
};

export const BRIDGE_AGREEMENT_COMMANDS: readonly Command[] = [check, sign, verify, explain];
