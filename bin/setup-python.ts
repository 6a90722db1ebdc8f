/** `npm run setup:python`: creates .venv with the pinned moto server, cfn-lint and Schemathesis. */
import { ensurePythonTools, VENV_DIR } from '#local/services/python';

await ensurePythonTools((line) => console.log(line));
console.log(`python tools ready in ${VENV_DIR}`);
