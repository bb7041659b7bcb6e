import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { artefactName } from './engine.js';

/** Where browser tests keep their screenshots (git-ignored test artefacts). */
export const SCREENSHOT_DIR = path.resolve('test-results/screenshots');

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  context: BrowserContext;
  newPage(): Promise<Page>;
  /** Save a screenshot under test-results/screenshots/NAME.png (NAME-postgres.png in the postgres project) and return its path. */
  screenshot(page: Page, name: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Debian's Chromium, driven by playwright-core, with a fresh profile. `viewport`
 * defaults to a phone (390×844); the TV page passes 1920×1080.
 */
export async function launchBrowser(options: { viewport?: { width: number; height: number }; javaScriptEnabled?: boolean; locale?: string } = {}): Promise<TestBrowser> {
  const profile = mkdtempSync(path.join(tmpdir(), 'kalm-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: options.viewport ?? { width: 390, height: 844 },
    javaScriptEnabled: options.javaScriptEnabled ?? true,
    locale: options.locale ?? 'en-US',
  });
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return {
    context,
    newPage: () => context.newPage(),
    async screenshot(page, name) {
      const file = path.join(SCREENSHOT_DIR, `${artefactName(name)}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
