/**
 * The project-local Python virtual environment (.venv) with the pinned tools the local runtime and the
 * tests use: moto server (AWS stand-in), cfn-lint and Schemathesis (the OpenAPI contract test). Created on
 * first need, so `npm ci && npm start` works on a fresh clone; `npm run setup:python` does it up front. A
 * .venv missing a tool (one made before the tool was added) gets requirements.lock installed again.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const VENV_DIR = join(PROJECT_ROOT, '.venv');
export const venvBin = (tool: string) => join(VENV_DIR, 'bin', tool);

const REQUIRED_TOOLS = ['moto_server', 'cfn-lint', 'schemathesis'];

export function venvReady(): boolean {
  return REQUIRED_TOOLS.every((tool) => existsSync(venvBin(tool)));
}

/**
 * Makes sure .venv exists with requirements.lock installed. Safe to call from parallel processes: one
 * creates it while the others wait on a lock file.
 */
export async function ensurePythonTools(log: (line: string) => void = () => {}): Promise<void> {
  if (venvReady()) return;
  await mkdir(join(PROJECT_ROOT, '.formfleet'), { recursive: true });
  const lockPath = join(PROJECT_ROOT, '.formfleet', 'venv.lock');
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.close();
      break;
    } catch {
      if (venvReady()) return;
      if (Date.now() > deadline) throw new Error(`gave up waiting for ${lockPath}; delete it if stale`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    if (venvReady()) return;
    const python = process.env.PYTHON ?? 'python3';
    log(`creating ${VENV_DIR} (one time: installs moto, cfn-lint and Schemathesis from PyPI)`);
    await run(python, ['-m', 'venv', VENV_DIR]);
    await run(
      venvBin('pip'),
      ['install', '--quiet', '--disable-pip-version-check', '-r', join(PROJECT_ROOT, 'requirements.lock')],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    if (!venvReady()) {
      throw new Error(`pip finished but one of ${REQUIRED_TOOLS.join(', ')} is missing from .venv/bin`);
    }
  } finally {
    await rm(lockPath, { force: true });
  }
}
