import { join } from 'node:path';

/** Where an agency's leaf node keeps its files: AGENCY_DIR/leaf/. */
export interface LeafPaths {
  dir: string;
  /** The generated nats-server config (0600: it names the credentials file). */
  configFile: string;
  /** The leaf's own JetStream store (its domain: the outbox and the forwarder's cursor). */
  storeDir: string;
  /** What `leaf up` is serving (local URL, hub, pid), for the agency's other processes. */
  stateFile: string;
  /** The last root-signed federation directory a client of this agency verified (public; verified again on load). */
  directoryFile: string;
}

/** The leaf paths of AGENCY_DIR `agencyDir`. */
export function leafPaths(agencyDir: string): LeafPaths {
  const dir = join(agencyDir, 'leaf');
  return { dir, configFile: join(dir, 'nats-leaf.conf'), storeDir: join(dir, 'store'), stateFile: join(dir, 'leaf.json'), directoryFile: join(dir, 'directory.jws') };
}
