import { LiaisonError } from '../../sdk/errors.ts';
import { need, str, type Command } from '../args.ts';
import { connectAs } from '../connect.ts';

const checkPerson: Command = {
  path: ['check-person'],
  summary: 'check a person against the registry’s alerts (hit, possible hit or no hit, with the reasons)',
  usage: 'liaison check-person --as AGENCY_DIR --name "GIVEN FAMILY" [--birth-date YYYY[-MM[-DD]]] [--nationality ICAO] [--passport ICAO:NUMBER] [--json]',
  options: {
    as: { type: 'string' },
    name: { type: 'string' },
    'birth-date': { type: 'string' },
    nationality: { type: 'string' },
    passport: { type: 'string' },
    location: { type: 'string' },
    json: { type: 'boolean' },
    server: { type: 'string' },
  },
  required: ['as', 'name'],
  async run(args, io) {
    const passport = str(args, 'passport');
    const [pc, pn] = passport ? passport.split(':') : [];
    if (passport && (!pc || !pn)) throw new LiaisonError('ERR_USAGE', '--passport must be ICAO:NUMBER, e.g. XCC:7781234');
    const client = await connectAs(args);
    try {
      const reply = await client.request('PersonCheckRequest', {
        subject: {
          name: { fullName: need(args, 'name') },
          ...(str(args, 'birth-date') ? { birthDate: str(args, 'birth-date') } : {}),
          ...(str(args, 'nationality') ? { nationalities: [str(args, 'nationality')] } : {}),
          ...(passport ? { identifiers: [{ kind: 'IDENTIFIER_KIND_PASSPORT', value: pn, issuingCountry: pc }] } : {}),
        },
        ...(str(args, 'location') ? { checkLocation: str(args, 'location') } : {}),
      });
      const b = reply.body;
      if (args.values.json) {
        io.out(JSON.stringify({ id: reply.header.id, from: reply.header.sender, tier: reply.header.tier, ...b }));
        return 0;
      }
      const outcome = String(b.outcome ?? '').replace('CHECK_OUTCOME_', '').replace('_', ' ').toLowerCase();
      io.out(`${outcome}${b.alertReference ? `: alert ${String(b.alertReference)} of ${String(b.alertOwnerCountry)} (score ${String(b.matchScore)})` : ''}`);
      for (const r of (b.matchReasons as string[] | undefined) ?? []) io.out(`  reason: ${r}`);
      if (b.requestedAction) io.out(`  requested action: ${String(b.requestedAction)}`);
      io.out(`  answered by ${reply.header.sender}, signed, bound to this request (${reply.header.requestHash})`);
      return 0;
    } finally {
      await client.close();
    }
  },
};

export const PERSON_COMMANDS: Command[] = [checkPerson];
