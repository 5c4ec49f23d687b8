// Build the booth bundle: ONE file, ballot_server/static/booth.js, the same
// bytes on every build from the same sources and package-lock.json (its
// SHA-256 is published on the board when an election opens, and its SHA-384
// is the page's Subresource Integrity hash, so it must be reproducible).
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
const OUT = join(HERE, '..', 'static', 'booth.js');

async function bundle() {
  const result = await build({
    absWorkingDir: HERE,
    entryPoints: ['src/main.js'],
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

const first = await bundle();
const sha256 = createHash('sha256').update(first).digest('hex');
if (process.argv.includes('--check')) {
  const second = await bundle();
  if (Buffer.compare(Buffer.from(first), Buffer.from(second)) !== 0) {
    console.error('booth bundle is not reproducible: two builds differ');
    process.exit(1);
  }
  if (!existsSync(OUT) || Buffer.compare(readFileSync(OUT), Buffer.from(first)) !== 0) {
    console.error(`${OUT} is not the build of the current sources: run \`make booth\``);
    process.exit(1);
  }
  console.log(`booth.js reproducible, ${first.length} bytes, sha256 ${sha256}`);
} else {
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, first);
  console.log(`booth.js ${first.length} bytes, sha256 ${sha256}`);
}
