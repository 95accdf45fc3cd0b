import { typeCatalogOf } from '../../sdk/client/type-catalog.ts';
import { compileConsumers, compilePermissions, loadPolicyFile } from '../../sdk/policy/index.ts';
import { loadCatalog } from '../../sdk/schema/index.ts';
import type { Command } from '../args.ts';
import { LiaisonError } from '../../sdk/errors.ts';

const policyCheck: Command = {
  path: ['policy', 'check'],
  summary: 'validate a policy file and summarise what it compiles to',
  usage: 'liaison policy check POLICY.yaml [--permissions]',
  options: { permissions: { type: 'boolean' } },
  allowPositionals: true,
  async run(args, io) {
    const file = args.positionals[0];
    if (!file || args.positionals.length > 1) throw new LiaisonError('ERR_USAGE', 'usage: liaison policy check POLICY.yaml');
    const tc = typeCatalogOf(loadCatalog());
    const policy = await loadPolicyFile(file, tc);
    const consumers = compileConsumers(policy, tc);
    io.out(`${file}: valid — policy "${policy.name}" ${policy.hash}`);
    io.out(`  ${Object.keys(policy.roles).length} roles, ${Object.keys(policy.agencies).length} agencies, ${consumers.length} durable consumers`);
    for (const [id, a] of Object.entries(policy.agencies)) {
      const perms = compilePermissions(policy, id, tc);
      io.out(`  ${id.padEnd(22)} ${a.country} roles ${a.roles.join(',').padEnd(28)} pub ${String(perms.pub.allow.length).padStart(3)} sub ${String(perms.sub.allow.length).padStart(3)} consumers ${consumers.filter((c) => c.agency === id).length}`);
      if (args.values.permissions) {
        for (const p of perms.pub.allow) io.out(`      pub ${p}`);
        for (const s of perms.sub.allow) io.out(`      sub ${s}`);
      }
    }
    return 0;
  },
};

export const POLICY_COMMANDS: Command[] = [policyCheck];
