import { accessSync, constants } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Where browser tests keep their screenshots (gitignored). */
export const ARTIFACTS = join(import.meta.dirname, '../../test-artifacts');

/** The Chromium the tests drive: LIAISON_CHROMIUM, else Debian's (scripts/ensure-chromium.mjs installs it). */
export function chromiumPath(): string {
  const candidates = [process.env.LIAISON_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((x): x is string => Boolean(x));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  throw new Error(`no Chromium found (tried ${candidates.join(', ')}): run \`node scripts/ensure-chromium.mjs\` or \`sudo apt-get install -y --no-install-recommends chromium\``);
}

/** A headless Chromium driven by playwright-core. */
export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
}

/** Save a full-page screenshot as test-artifacts/NAME.png; its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
