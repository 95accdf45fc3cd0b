import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The package's directory in the project's node_modules. */
function pkgDir(name: string): string {
  return join(import.meta.dirname, '../../node_modules', name);
}

/**
 * The browser modules the page imports, served from node_modules under fixed names (no bundler): the
 * page's import map names them. Only these files are served; nothing else under node_modules is reachable.
 */
export const VENDOR: Readonly<Record<string, () => string>> = {
  'preact.mjs': () => join(pkgDir('preact'), 'dist/preact.mjs'),
  'preact-hooks.mjs': () => join(pkgDir('preact'), 'hooks/dist/hooks.mjs'),
  'htm.mjs': () => join(pkgDir('htm'), 'dist/htm.mjs'),
  'cytoscape.mjs': () => join(pkgDir('cytoscape'), 'dist/cytoscape.esm.min.mjs'),
};

/** The text of a vendored module (undefined for a name not in {@link VENDOR}). */
export function vendorModule(name: string): string | undefined {
  const path = Object.hasOwn(VENDOR, name) ? VENDOR[name]!() : undefined;
  return path ? readFileSync(path, 'utf8') : undefined;
}
