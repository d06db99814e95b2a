/**
 * The built web app (vite's output, dist/studio) served from disk: `/` is index.html, a
 * path outside the folder or a missing file is 404; hashed assets are cached for a year.
 */
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { Context } from 'hono';

const types: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
};

/** The file of `root` at URL path `path` ('' or '/' is index.html), or a 404 response. */
export async function serveFile(c: Context, root: string, path: string): Promise<Response> {
  const relative = path === '' || path === '/' ? 'index.html' : decodeURIComponent(path).replace(/^\/+/, '');
  const file = normalize(join(root, relative));
  if (!(file + sep).startsWith(normalize(root + sep)) || file === normalize(root)) return c.notFound();
  let body: Buffer;
  try {
    body = await readFile(file);
  } catch {
    return c.notFound();
  }
  const type = types[extname(file)] ?? 'application/octet-stream';
  const cache = relative.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
  return c.body(new Uint8Array(body), 200, { 'content-type': type, 'cache-control': cache });
}
