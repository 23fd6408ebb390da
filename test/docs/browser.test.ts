/**
 * The built API docs site works in a real browser.
 *
 * Serves `docs/api` on 127.0.0.1, opens it in headless Chromium (Debian's `chromium`,
 * driven by playwright-core; playwright never downloads a browser here) and checks the
 * index, a class page and a guide, the search box, every internal link and anchor, and
 * that no page logs a console error. Builds the site first (`npx typedoc`) when it is
 * missing or older than its sources. Without `/usr/bin/chromium` the suite is skipped
 * with a notice, except under `CI=true`, where that is a failure.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const site = join(root, 'docs', 'api');
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** The class the search box must find. */
const SEARCH_FOR = 'RuleEngine';

const hasChromium = existsSync(CHROMIUM);
const inCi = process.env['CI'] === 'true';
if (!hasChromium && !inCi) {
  console.warn(
    `[docs browser check] skipped: ${CHROMIUM} not found. Install it with \`apt-get install -y chromium\` to run this check (CI=true makes its absence a failure).`,
  );
}

// ---------------------------------------------------------------------------------------
// Building the site

function walk(dir: string, keep: (file: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(path, keep));
    else if (keep(path)) out.push(path);
  }
  return out;
}

/** The files the site is generated from; the site is stale when any is newer than it. */
function siteSources(): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join(root, 'docs', f));
  return [
    ...walk(join(root, 'src'), (f) => f.endsWith('.ts')),
    ...docs,
    ...walk(join(root, 'scripts'), (f) => /typedoc.*\.mjs$/.test(f)),
    ...['README.md', 'typedoc.json', 'tsconfig.json', 'tsconfig.build.json']
      .map((f) => join(root, f))
      .filter((f) => existsSync(f)),
  ];
}

function siteIsFresh(): boolean {
  const index = join(site, 'index.html');
  if (!existsSync(index)) return false;
  const built = statSync(index).mtimeMs;
  return siteSources().every((f) => statSync(f).mtimeMs <= built);
}

/** Where a build by this test records TypeDoc's warnings (`npm run docs` wipes it). */
const WARNINGS_FILE = join(site, '.typedoc-warnings.txt');

/**
 * Runs `npx typedoc`, with warnings reported rather than fatal so that the browser checks
 * still run; the warnings are kept in WARNINGS_FILE and fail a test of their own.
 */
function buildSite(): Promise<void> {
  const typedoc = join(root, 'node_modules', 'typedoc', 'bin', 'typedoc');
  return new Promise((done, fail) => {
    execFile(
      process.execPath,
      [typedoc, '--treatWarningsAsErrors', 'false'],
      { cwd: root, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, NO_COLOR: '1' } },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`;
        if (error || !existsSync(join(site, 'index.html'))) {
          fail(new Error(`npx typedoc failed:\n${output}`));
          return;
        }
        const warnings = output
          .split(/\r?\n/)
          .filter(
            (l) => /\[(warning|error)\]/.test(l) && !/Found \d+ errors? and \d+ warnings?/.test(l),
          );
        if (warnings.length > 0) writeFileSync(WARNINGS_FILE, `${warnings.join('\n')}\n`);
        done();
      },
    );
  });
}

// ---------------------------------------------------------------------------------------
// Serving it

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
};

function fileForPath(pathname: string): string | undefined {
  let path = decodeURIComponent(pathname);
  if (path.endsWith('/')) path += 'index.html';
  const file = resolve(site, `.${path}`);
  return file.startsWith(site + sep) ? file : undefined;
}

async function serve(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://127.0.0.1');
    // Browsers probe /favicon.ico on their own; the site does not link one.
    if (pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const file = fileForPath(pathname);
    if (!file) {
      res.writeHead(403).end();
      return;
    }
    readFile(file).then(
      (body) => {
        const type = CONTENT_TYPES[extname(file)] ?? 'application/octet-stream';
        // Cacheable, so the crawl does not fetch the shared assets again for every page.
        res.writeHead(200, { 'content-type': type, 'cache-control': 'max-age=600' }).end(body);
      },
      () => res.writeHead(404, { 'content-type': 'text/plain' }).end('not found'),
    );
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return { server, origin: `http://127.0.0.1:${port}` };
}

// ---------------------------------------------------------------------------------------
// Looking at pages

/** What a rendered page offers to links (its ids) and where it links to. */
interface PageScan {
  readonly ids: readonly string[];
  readonly links: readonly string[];
}

// Evaluated in the page (the test's tsconfig has no DOM types, hence a string).
const SCAN_PAGE = `(() => ({
  ids: [...document.querySelectorAll('[id], a[name]')].map((e) => e.id || e.getAttribute('name')),
  links: [
    ...[...document.querySelectorAll('a[href], area[href], link[href]')].map((e) => e.href),
    ...[...document.querySelectorAll('script[src], img[src], iframe[src]')].map((e) => e.src),
  ],
}))()`;

// The sidebar is rendered by script from assets/navigation.js; wait until it is there.
const NAV_RENDERED = `document.querySelectorAll('#tsd-nav-container a').length > 1`;
/** Pages whose rendered sidebar is crawled too (one at the root, one a level down). */
const NAV_PAGES = new Set(['index.html', 'classes/plugboard.IntegrationRegistry.html']);

function watchConsole(page: Page, errors: string[]): void {
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`${page.url()}: console error: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`${page.url()}: uncaught ${error.message}`));
  page.on('requestfailed', (request) =>
    errors.push(
      `${page.url()}: request failed: ${request.url()} (${request.failure()?.errorText})`,
    ),
  );
}

async function headings(page: Page, selector: string): Promise<string[]> {
  return (await page.locator(selector).allInnerTexts()).map((t) => t.trim());
}

// ---------------------------------------------------------------------------------------

describe.skipIf(!hasChromium && !inCi)('API docs site in headless Chromium', () => {
  let server: Server | undefined;
  let origin = '';
  let browser: Browser | undefined;
  let context: BrowserContext;

  beforeAll(async () => {
    if (!hasChromium) {
      throw new Error(
        `CI=true but ${CHROMIUM} is missing: .ci/run installs it with \`apt-get install -y chromium\``,
      );
    }
    if (!siteIsFresh()) await buildSite();
    ({ server, origin } = await serve());
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_FLAGS,
    });
    context = await browser.newContext();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
  });

  /** Opens a page, waits for the sidebar, and fails on console errors. */
  async function open(path: string): Promise<Page> {
    const errors: string[] = [];
    const page = await context.newPage();
    watchConsole(page, errors);
    await page.goto(`${origin}/${path}`, { waitUntil: 'load' });
    await page.waitForFunction(NAV_RENDERED, undefined, { timeout: 10_000 });
    expect(errors).toEqual([]);
    return page;
  }

  it('builds with zero TypeDoc warnings', () => {
    const warnings = existsSync(WARNINGS_FILE) ? readFileSync(WARNINGS_FILE, 'utf8').trim() : '';
    expect(warnings, 'TypeDoc warnings (run `npm run docs` to see them in context)').toBe('');
  });

  it('renders the index page with its headings', async () => {
    const page = await open('index.html');
    expect(await page.title()).toContain('plugboard');
    expect(await headings(page, '.col-content h1')).toContain('plugboard');
    // The navigation lists the guides and the entry points.
    const nav = (await page.locator('#tsd-nav-container').textContent()) ?? '';
    expect(nav).toContain('Guides');
    expect(nav).toContain('plugboard/storage/json-file');
    await page.close();
  });

  it('renders the IntegrationRegistry class page with its members', async () => {
    const page = await open('classes/plugboard.IntegrationRegistry.html');
    expect(await headings(page, '.tsd-page-title h1')).toEqual(['Class IntegrationRegistry']);
    const sections = await headings(page, '.col-content h2');
    expect(sections).toEqual(expect.arrayContaining(['Constructors', 'Methods']));
    expect(await page.locator('#register').count()).toBe(1);
    await page.close();
  }, 30_000);

  it('renders a guide with its headings', async () => {
    const page = await open('index.html');
    // Found through the sidebar, which lists the guides whether or not the index page
    // shows a README (the "Guides" folder may be collapsed, so follow the href).
    const href = await page
      .locator('#tsd-nav-container a', { hasText: /^Getting started$/ })
      .first()
      .getAttribute('href');
    expect(href).toBeTruthy();
    await page.goto(new URL(href ?? '', page.url()).href, { waitUntil: 'load' });
    expect(page.url()).toMatch(/\/documents\/[^/]+\.html$/);
    expect(await headings(page, '.col-content h1')).toEqual([
      expect.stringMatching(/getting started/i),
    ]);
    expect((await headings(page, '.col-content h2')).length).toBeGreaterThanOrEqual(3);
    await page.close();
  }, 30_000);

  it(`finds ${SEARCH_FOR} with the search box`, async () => {
    const page = await open('index.html');
    await page.locator('#tsd-search-trigger').click();
    await page.locator('#tsd-search-input').fill(SEARCH_FOR);
    const hit = page.locator(`#tsd-search-results li a[href$=".${SEARCH_FOR}.html"]`).first();
    await hit.waitFor({ timeout: 10_000 });
    expect(((await hit.textContent()) ?? '').trim()).toMatch(
      new RegExp(`(^|\\.)\\s*${SEARCH_FOR}$`),
    );
    await hit.click();
    await page.waitForLoadState('load');
    expect(page.url()).toMatch(new RegExp(`/classes/[^/]*\\.${SEARCH_FOR}\\.html$`));
    expect(await headings(page, '.tsd-page-title h1')).toEqual([`Class ${SEARCH_FOR}`]);
    await page.close();
  }, 30_000);

  it('has no broken internal link or anchor and no console error on any page', async () => {
    const pages = walk(site, (f) => f.endsWith('.html')).map((f) =>
      relative(site, f).split(sep).join('/'),
    );
    expect(pages.length).toBeGreaterThan(10);
    const scans = new Map<string, PageScan>();
    const errors: string[] = [];

    // A few tabs, each visiting pages in turn; the sidebar is the same tree on every page,
    // so it is awaited and crawled only on NAV_PAGES.
    const queue = [...pages];
    const tab = async () => {
      const page = await context.newPage();
      watchConsole(page, errors);
      for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
        try {
          await page.goto(`${origin}/${path}`, { waitUntil: 'load' });
          if (NAV_PAGES.has(path)) {
            await page.waitForFunction(NAV_RENDERED, undefined, { timeout: 10_000 });
          }
          scans.set(path, (await page.evaluate(SCAN_PAGE)) as PageScan);
        } catch (error) {
          errors.push(`${path}: ${(error as Error).message.split('\n')[0]}`);
        }
      }
      await page.close();
    };
    await Promise.all([tab(), tab(), tab(), tab()]);
    expect(scans.size).toBe(pages.length);

    const broken = new Set<string>();
    for (const [from, scan] of scans) {
      for (const href of scan.links) {
        const url = new URL(href);
        if (url.origin !== origin) continue; // external links are not ours to check
        const file = fileForPath(url.pathname);
        const target = file ? relative(site, file).split(sep).join('/') : url.pathname;
        if (!file || !existsSync(file) || statSync(file).isDirectory()) {
          broken.add(`${from} → ${href.slice(origin.length)} (no such file)`);
          continue;
        }
        const anchor = decodeURIComponent(url.hash.slice(1));
        if (!anchor || !target.endsWith('.html')) continue;
        const ids = scans.get(target)?.ids;
        if (ids && !ids.includes(anchor)) {
          broken.add(`${from} → ${href.slice(origin.length)} (no id "${anchor}")`);
        }
      }
    }
    expect([...broken].sort(), 'broken internal links').toEqual([]);
    expect(errors.sort(), 'console errors').toEqual([]);
  }, 180_000);
});
