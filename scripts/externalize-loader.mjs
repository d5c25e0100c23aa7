// Trunk post_build hook (see frontend/Trunk.toml): moves the inline
// `<script type="module">` loader that trunk writes into index.html out to a
// file of its own, `boot-<hash>.js`, referenced with `src` and an SRI
// `integrity`. The server sends `Content-Security-Policy: script-src 'self'
// 'wasm-unsafe-eval'`, under which an inline script never runs; an external
// one from the same origin does. The name carries a hash of the content, like
// every other file trunk emits, so a cached old loader is never paired with a
// new bundle.
//
// Trunk runs it with the staging directory (the build about to become dist/)
// in TRUNK_STAGING_DIR and the public URL in TRUNK_PUBLIC_URL. It needs only
// node's standard library.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const staging = process.env.TRUNK_STAGING_DIR;
if (!staging) {
  console.error('externalize-loader: TRUNK_STAGING_DIR is not set (run me as a trunk post_build hook)');
  process.exit(2);
}
const publicUrl = process.env.TRUNK_PUBLIC_URL || '/';
const base = publicUrl.endsWith('/') ? publicUrl : `${publicUrl}/`;
const htmlPath = join(staging, 'index.html');
const html = readFileSync(htmlPath, 'utf8');

// A script element without `src`, of type module, whose code imports the
// wasm-bindgen glue: trunk's loader (quoted or not, should trunk minify).
const INLINE_MODULE = /<script\b(?<attrs>[^>]*)>(?<code>[\s\S]*?)<\/script\s*>/gi;
const isModule = (attrs) => /\btype\s*=\s*["']?module["']?/i.test(attrs);
const hasSrc = (attrs) => /\bsrc\s*=/i.test(attrs);

let loaders = 0;
const files = [];
const rewritten = html.replace(INLINE_MODULE, (element, attrs, code) => {
  if (hasSrc(attrs) || !isModule(attrs) || !/\bimport\b/.test(code)) return element;
  loaders += 1;
  const body = `${code.trim()}\n`;
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 16);
  const name = `boot-${hash}.js`;
  const integrity = `sha384-${createHash('sha384').update(body).digest('base64')}`;
  files.push(name);
  writeFileSync(join(staging, name), body);
  return `<script type="module" src="${base}${name}" integrity="${integrity}"></script>`;
});

if (loaders === 0) {
  console.error(`externalize-loader: no inline module loader in ${htmlPath}; did trunk's output change?`);
  process.exit(1);
}
writeFileSync(htmlPath, rewritten);

// Anything inline that is left (e.g. `trunk serve`'s live-reload script,
// which only exists in development) would be blocked by the server's policy.
const leftovers = [...rewritten.matchAll(INLINE_MODULE)].filter(({ groups }) => !hasSrc(groups.attrs));
if (leftovers.length > 0) {
  console.warn(
    `externalize-loader: ${leftovers.length} inline script(s) left in index.html; ` +
      'a page served with the Content-Security-Policy will not run them',
  );
}
console.log(`externalize-loader: moved the inline loader to ${files.join(', ')}`);
