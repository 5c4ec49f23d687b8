// Build the booth bundle: ONE file, ballot_server/static/booth.js, the same
// bytes on every build from the same sources and package-lock.json (its
// SHA-256 is published on the board when an election opens, and its SHA-384
// is the page's Subresource Integrity hash, so it must be reproducible).
// A second bundle, static/site.js, is the public election page's
// tracking-code check (src/site_check.js, the booth's own check code), built
// the same way.
//
//   node build.mjs            build
//   node build.mjs --check    build twice in memory; fail if the two differ or
//                             differ from the bundle on disk (writes nothing)
//
// What keeps it reproducible: pinned dependencies (package-lock.json, npm
// ci), an explicit working directory so the module comments esbuild writes
// are relative paths, no source map, no timestamps, a fixed target.

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
const BUNDLES = [
  { entry: 'src/main.js', out: join(HERE, '..', 'static', 'booth.js'), name: 'booth.js' },
  { entry: 'src/site_check.js', out: join(HERE, '..', 'static', 'site.js'), name: 'site.js' },
];

async function bundle(entry) {
  const result = await build({
    absWorkingDir: HERE,
    entryPoints: [entry],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    charset: 'utf8',
    legalComments: 'eof',
    sourcemap: false,
    logLevel: 'warning',
  });
  return result.outputFiles[0].contents;
}

for (const { entry, out, name } of BUNDLES) {
  const first = await bundle(entry);
  const sha256 = createHash('sha256').update(first).digest('hex');
  if (process.argv.includes('--check')) {
    const second = await bundle(entry);
    if (Buffer.compare(Buffer.from(first), Buffer.from(second)) !== 0) {
      console.error(`${name} is not reproducible: two builds differ`);
      process.exit(1);
    }
    if (!existsSync(out) || Buffer.compare(readFileSync(out), Buffer.from(first)) !== 0) {
      console.error(`${out} is not the build of the current sources: run \`make booth\``);
      process.exit(1);
    }
    console.log(`${name} reproducible, ${first.length} bytes, sha256 ${sha256}`);
  } else {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, first);
    console.log(`${name} ${first.length} bytes, sha256 ${sha256}`);
  }
}
