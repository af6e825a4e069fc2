#!/usr/bin/env node
// The `rejuv` command. The CLI is TypeScript, run through tsx's loader so no build step is needed.
import { register } from 'tsx/esm/api';

// The SDK warns once per process that its 2027 releases need Node 22; said once in the README instead
// of on every command's stderr.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register();
// `rejuv audit export ... | head` closes the pipe early; that is the reader's choice, not an error.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
const { main } = await import('../cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
