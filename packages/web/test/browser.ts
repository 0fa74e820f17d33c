/**
 * What the browser suites share: a production build of the web app, a real server serving it
 * (with the real API and WebSocket), and Chromium through playwright-core.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startTestServer, type TestServer } from '@parley/server/testing';

const require = createRequire(import.meta.url);
export const WEB_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REPO_DIR = path.resolve(WEB_DIR, '../..');
export const CHROMIUM = process.env.PARLEY_CHROMIUM ?? '/usr/bin/chromium';

/** Build the app into a fresh folder, so a test run never races `npm start` for dist/. */
export function buildWeb(): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-web-'));
  const vite = path.join(path.dirname(require.resolve('vite/package.json')), 'bin/vite.js');
  execFileSync(process.execPath, [vite, 'build', '--outDir', dir, '--emptyOutDir', '--logLevel', 'error'], { cwd: WEB_DIR, stdio: 'pipe', env: { ...process.env, NODE_ENV: 'production' } });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    // A fake microphone (a tone) and no permission prompt, for voice notes.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'],
  });
}

export interface Harness {
  server: TestServer;
  browser: Browser;
  close(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const web = buildWeb();
  const server = await startTestServer('sqlite', { webDir: web.dir });
  const browser = await launch();
  return {
    server,
    browser,
    close: async () => {
      await browser.close().catch(() => undefined);
      await server.close();
      web.remove();
    },
  };
}

/** A person's browser: its own context (storage, cookies), failing the test on any script error or dialog. */
export interface Person {
  context: BrowserContext;
  page: Page;
  /** Dialogs (alert, confirm) that opened; confirms are accepted. */
  dialogs: string[];
  errors: string[];
}

export async function openPerson(h: Harness, options: { colorScheme?: 'light' | 'dark'; viewport?: { width: number; height: number } } = {}): Promise<Person> {
  const context = await h.browser.newContext({
    baseURL: h.server.url,
    colorScheme: options.colorScheme ?? 'light',
    viewport: options.viewport ?? { width: 1280, height: 800 },
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  const person: Person = { context, page, dialogs: [], errors: [] };
  page.on('dialog', (d) => {
    person.dialogs.push(`${d.type()}: ${d.message()}`);
    void (d.type() === 'confirm' ? d.accept() : d.dismiss());
  });
  page.on('pageerror', (e) => person.errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') person.errors.push(m.text());
  });
  return person;
}

export async function signUpInBrowser(p: Person, username: string, displayName: string): Promise<void> {
  await p.page.goto('/signup');
  await p.page.getByLabel('Username').fill(username);
  await p.page.getByLabel(/Display name/).fill(displayName);
  await p.page.getByLabel('Password', { exact: true }).fill('correct horse battery');
  await p.page.getByRole('button', { name: 'Create account' }).click();
  await p.page.getByRole('searchbox', { name: 'Search people' }).waitFor();
}

const AXE_SOURCE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

/** Run axe-core in the page; returns the serious and critical violations. */
export async function axe(page: Page, context?: string): Promise<{ id: string; impact: string; help: string; nodes: string[] }[]> {
  // The app's CSP refuses inline <script> (addScriptTag): evaluate the source through the
  // DevTools protocol instead, which CSP does not govern, so the page keeps its real policy.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
  const result = await page.evaluate(async (selector) => {
    const w = window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[]; failureSummary?: string }[] }[] }> } };
    return w.axe.run(selector ?? document, { resultTypes: ['violations'] });
  }, context);
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary ?? ''}`) }));
}

/** Where screenshots go: docs/screenshots when PARLEY_UPDATE_SCREENSHOTS=1, else a temp folder. */
export function screenshotDir(): string {
  const dir = process.env.PARLEY_UPDATE_SCREENSHOTS === '1' ? path.join(REPO_DIR, 'docs/screenshots') : path.join(tmpdir(), 'parley-screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}
