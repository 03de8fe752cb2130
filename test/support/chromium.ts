import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (never a downloaded one); ATLAS_CHROMIUM points elsewhere. */
export const CHROMIUM = process.env.ATLAS_CHROMIUM ?? '/usr/bin/chromium';

/** Headless Chromium with the flags this machine needs. Throws (never skips) when it is missing. */
export async function launchChromium(timeoutMs = 60_000): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is missing at ${CHROMIUM} (Debian package chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: timeoutMs,
  });
}
