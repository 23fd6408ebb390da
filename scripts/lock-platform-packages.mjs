#!/usr/bin/env node
/**
 * Adds lockfile entries for platform-specific optional packages that the registry mirror
 * used here does not serve (npm 11 then leaves them out of package-lock.json, and `npm ci`
 * refuses the lock as out of sync). Each entry records the package's version and the
 * platform it is for, read from its name, so `npm ci` skips it on every other platform.
 *
 *   node scripts/lock-platform-packages.mjs          fix package-lock.json in place
 *   node scripts/lock-platform-packages.mjs --check  exit 1 if entries are missing
 *
 * Run it after `npm install` changes dependencies.
 */
import { readFileSync, writeFileSync } from 'node:fs';

const OS = [
  'android',
  'darwin',
  'linux',
  'win32',
  'freebsd',
  'openbsd',
  'openharmony',
  'sunos',
  'aix',
  'netbsd',
];
const CPU = {
  x64: 'x64',
  arm64: 'arm64',
  ia32: 'ia32',
  arm: 'arm',
  loong64: 'loong64',
  ppc64: 'ppc64',
  riscv64: 'riscv64',
  s390x: 's390x',
};

function platformOf(name) {
  const base = name.split('/').pop();
  const parts = base.split('-');
  const os = OS.find((o) => parts.includes(o));
  const cpuPart = parts.find((p) => Object.hasOwn(CPU, p) || p.startsWith('arm'));
  if (!os || !cpuPart) return undefined;
  const cpu = Object.hasOwn(CPU, cpuPart) ? CPU[cpuPart] : 'arm';
  const libc = base.includes('musl')
    ? ['musl']
    : os === 'linux' && (base.includes('gnu') || !base.includes('musl'))
      ? ['glibc']
      : undefined;
  return { os: [os], cpu: [cpu], ...(libc ? { libc } : {}) };
}

const check = process.argv.includes('--check');
const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;
const added = [];
for (const [key, pkg] of Object.entries(packages)) {
  if (!key || !pkg.optionalDependencies) continue;
  for (const [dep, range] of Object.entries(pkg.optionalDependencies)) {
    const where = `node_modules/${dep}`;
    if (packages[where] || packages[`${key}/${where}`]) continue;
    const platform = platformOf(dep);
    if (!platform) continue;
    const version = String(range).replace(/^[\^~=]/, '');
    packages[where] = { version, ...(pkg.dev ? { dev: true } : {}), optional: true, ...platform };
    added.push(`${dep}@${version}`);
  }
}
if (check) {
  if (added.length > 0) {
    console.error(
      `package-lock.json lacks ${added.length} platform packages; run node scripts/lock-platform-packages.mjs`,
    );
    process.exit(1);
  }
} else if (added.length > 0) {
  lock.packages = Object.fromEntries(
    Object.entries(packages).sort(([a], [b]) =>
      a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0,
    ),
  );
  writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
  console.log(`added ${added.length} platform package entries: ${added.join(', ')}`);
}
