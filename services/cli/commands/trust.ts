import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { enrolFromPolicy } from '../../exchange/admin.ts';
import { typeCatalogOf } from '../../sdk/client/type-catalog.ts';
import { parsePolicy } from '../../sdk/policy/index.ts';
import { loadCatalog } from '../../sdk/schema/index.ts';
import { applyAccountUpdate, initFederation, revokeAgency, rotateSigningKey } from '../../trust/index.ts';
import { need, str, type Command } from '../args.ts';
import { knownExchangeUrl } from '../exchange-url.ts';

const trustInit: Command = {
  path: ['trust', 'init'],
  summary: 'create a federation: root key, NATS operator, exchange and system accounts',
  usage: 'liaison trust init --dir TRUST_DIR --policy POLICY.yaml [--name FEDERATION]',
  options: { dir: { type: 'string' }, policy: { type: 'string' }, name: { type: 'string' } },
  required: ['dir', 'policy'],
  async run(args, io) {
    const file = need(args, 'policy');
    const text = await readFile(file, 'utf8');
    const policy = parsePolicy(text, { file, catalog: typeCatalogOf(loadCatalog()) });
    const fed = await initFederation({ dir: need(args, 'dir'), policyText: text, federationName: str(args, 'name') ?? policy.name });
    io.out(`federation "${policy.name}" created in ${need(args, 'dir')} (policy ${basename(file)}, ${Object.keys(policy.agencies).length} agencies named)`);
    io.out(`root key id ${fed.root.kid}; TLS CA in tls/ca.pem (agencies get a copy at enrolment); private files are mode 0600. Next: liaison trust enrol --dir ${need(args, 'dir')} --agency ID --out DIR`);
    return 0;
  },
};

const trustEnrol: Command = {
  path: ['trust', 'enrol'],
  summary: 'enrol an agency named by the policy: credential, signing key, NATS creds',
  usage: 'liaison trust enrol --dir TRUST_DIR --agency ID --out AGENCY_DIR [--server URL]... [--plain] [--reissue [--push URL]]',
  options: {
    dir: { type: 'string' },
    agency: { type: 'string' },
    out: { type: 'string' },
    server: { type: 'string', multiple: true },
    reissue: { type: 'boolean' },
    push: { type: 'string' },
    plain: { type: 'boolean' },
  },
  required: ['dir', 'agency', 'out'],
  async run(args, io) {
    // The URLs agency.json records: --server, else the exchange this trust directory knows, else enrol's default (or the prior ones on --reissue).
    const known = knownExchangeUrl(need(args, 'dir'));
    const servers = (args.values.server as string[] | undefined)?.flatMap((s) => s.split(',')) ?? (known ? known.split(',') : undefined);
    const r = await enrolFromPolicy({
      trustDir: need(args, 'dir'),
      agencyId: need(args, 'agency'),
      out: need(args, 'out'),
      catalog: typeCatalogOf(loadCatalog()),
      servers,
      ...(args.values.plain === true ? { tls: false } : {}),
      reissue: args.values.reissue === true,
    });
    io.out(`enrolled ${r.agency.id} (${r.agency.name}, ${r.agency.country}, roles ${r.agency.roles.join(', ')}) → ${need(args, 'out')}`);
    io.out(`signing key ${r.agency.keyId}; NATS user ${r.natsUser}; servers ${r.agency.servers.join(', ')}`);
    const push = str(args, 'push');
    if (r.accountJwt && push) {
      const res = await applyAccountUpdate({ url: push, trustDir: need(args, 'dir'), accountJwt: r.accountJwt, plain: r.agency.tls === false });
      io.out(`earlier NATS users of this agency revoked on ${push}: ${res.code} ${res.message}`);
    } else if (r.accountJwt) {
      io.out('earlier NATS users of this agency were revoked in the account JWT; pass --push URL to apply it to a running exchange now (a restarted exchange applies it)');
    }
    return 0;
  },
};

const trustRevoke: Command = {
  path: ['trust', 'revoke'],
  summary: 'revoke an agency: signed revocation list, NATS users revoked (pushed to a running exchange with --server)',
  usage: 'liaison trust revoke --dir TRUST_DIR --agency ID [--server URL [--plain]]',
  options: { dir: { type: 'string' }, agency: { type: 'string' }, server: { type: 'string' }, plain: { type: 'boolean' } },
  required: ['dir', 'agency'],
  async run(args, io) {
    const dir = need(args, 'dir');
    const r = await revokeAgency({ dir, agencyId: need(args, 'agency') });
    io.out(`revoked ${need(args, 'agency')} at ${r.record.revokedAt}; ${r.revokedUsers.length} NATS user(s) added to the account revocations`);
    const url = str(args, 'server');
    if (url) {
      const res = await applyAccountUpdate({ url, trustDir: dir, accountJwt: r.accountJwt, plain: args.values.plain === true });
      io.out(`pushed to ${url}: ${res.code} ${res.message} (live connections of the agency are closed)`);
    } else {
      io.out('a running `liaison exchange up` pushes the new directory within a second; pass --server URL to cut live NATS sessions now');
    }
    return 0;
  },
};

const trustRotate: Command = {
  path: ['trust', 'rotate-key'],
  summary: "rotate an agency's signing key (the old key still verifies what it signed before)",
  usage: 'liaison trust rotate-key --dir TRUST_DIR --agency ID --out AGENCY_DIR',
  options: { dir: { type: 'string' }, agency: { type: 'string' }, out: { type: 'string' } },
  required: ['dir', 'agency', 'out'],
  async run(args, io) {
    const r = await rotateSigningKey({ dir: need(args, 'dir'), agencyId: need(args, 'agency'), out: need(args, 'out') });
    io.out(`rotated ${need(args, 'agency')}: new key ${r.keyId}, superseded ${r.supersededKeyId}`);
    return 0;
  },
};

export const TRUST_COMMANDS: Command[] = [trustInit, trustEnrol, trustRevoke, trustRotate];
