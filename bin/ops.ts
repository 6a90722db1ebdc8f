/** `npm run ops -- <command>`: the operator's CLI (local/cli/ops.ts); `npm run ops -- help` lists the commands. */
import { processIo } from '#local/cli/io';
import { runOps } from '#local/cli/ops';

process.exitCode = await runOps(process.argv.slice(2), processIo());
