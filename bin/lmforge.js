#!/usr/bin/env node
// The package's own bin: runs the compiled CLI (npm install builds it via `prepare`).
// main() turns every error into one `lmforge: <where>: <what>` line and an exit code;
// what is left here is a CLI that cannot load at all.
let main;
try {
  ({ main } = await import('../dist/src/cli/main.js'));
} catch (error) {
  if (process.env.LMFORGE_DEBUG === '1') console.error(error);
  const notBuilt =
    error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/src/cli/main.js');
  const detail = notBuilt
    ? 'the CLI is not built (run npm run build)'
    : `cannot load the CLI (${String(error?.message ?? error).replace(/\r?\n/g, ' ')}); reinstall lmforge`;
  process.stderr.write(`lmforge: ${new URL('..', import.meta.url).pathname}: ${detail}\n`);
  process.exit(1);
}
process.exitCode = await main(process.argv);
