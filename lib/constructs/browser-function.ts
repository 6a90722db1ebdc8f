/**
 * BrowserFunction: the house function for handlers that run Chromium. It adds what Chromium needs on
 * Lambda: at least WORKER.memoryMb of memory, /tmp space for the extracted browser and its profiles, and
 * @sparticuz/chromium packaged the way its README requires for a non-layer deployment: as a production
 * node module installed beside the bundle (never bundled by esbuild, because it finds its Brotli-packed
 * binaries in `bin/` relative to its own files). playwright-core is installed the same way, since it loads
 * its own files at run time too. The browser's network guard needs no variable in AWS: it is closed by default,
 * and the one variable that opens it (the local runtime's BROWSER_ALLOWED_ORIGINS) is refused here.
 */
import type { Construct } from 'constructs';
import { WORKER } from '#policy';
import { HouseFunction, type HouseFunctionProps, validateHouseFunctionProps } from './house-function.ts';

/** Packages installed into the bundle's node_modules rather than bundled. */
export const BROWSER_NODE_MODULES = ['@sparticuz/chromium', 'playwright-core'] as const;

export interface BrowserFunctionProps extends Omit<HouseFunctionProps, 'memorySize' | 'nodeModules'> {
  /** Memory in MB; Chromium is unstable below WORKER.memoryMb. @default WORKER.memoryMb */
  readonly memorySize?: number;
  /** /tmp size for Chromium (about 300 MB extracted) and its profiles. @default WORKER.ephemeralStorageMb */
  readonly ephemeralStorageMb?: number;
}

export class BrowserFunction extends HouseFunction {
  constructor(scope: Construct, id: string, props: BrowserFunctionProps) {
    const memorySize = props.memorySize ?? WORKER.memoryMb;
    const ephemeralStorageMb = props.ephemeralStorageMb ?? WORKER.ephemeralStorageMb;
    const problems: string[] = [];
    if (memorySize < WORKER.memoryMb) {
      problems.push(`memorySize must be at least ${WORKER.memoryMb} MB for Chromium (got ${memorySize})`);
    }
    if (props.environment?.BROWSER_ALLOWED_ORIGINS !== undefined) {
      // The worker would refuse to start with it (functions/worker/network-guard.ts): say so at synth instead.
      problems.push(
        'environment must not set BROWSER_ALLOWED_ORIGINS: it opens the browser to private addresses and is for the local runtime only',
      );
    }
    if (ephemeralStorageMb < 1024) {
      problems.push(
        `ephemeralStorageMb must be at least 1024 for Chromium's /tmp (got ${ephemeralStorageMb})`,
      );
    }
    const houseProps: HouseFunctionProps = {
      ...props,
      memorySize,
      ephemeralStorageMb,
      nodeModules: BROWSER_NODE_MODULES,
    };
    problems.push(...validateHouseFunctionProps(houseProps));
    if (problems.length > 0) throw new Error(`${id}: ${problems.join('; ')}`);
    super(scope, id, houseProps);
  }
}
