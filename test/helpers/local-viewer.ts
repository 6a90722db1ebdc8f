/**
 * A local system of the test's own (gateway, API handlers, Postgres, moto; no workers, no timers: rows stay
 * where the test puts them) and a Chromium to look at its pages with, started before and stopped after the file.
 */
import { afterAll, beforeAll } from 'vitest';
import { type BrowserLease, BrowserPool } from '#functions/worker/browser-pool';
import { type LocalSystem, startLocalSystem } from '#local/runtime';
import { motoEndpoint, type TestDatabase, testDatabase, uniqueName } from './services.ts';

export interface LocalViewer {
  readonly system: LocalSystem;
  /** A browser context (released after the file). */
  lease(options?: Parameters<BrowserPool['acquire']>[0]): Promise<BrowserLease>;
}

export function useLocalViewer(label: string): LocalViewer {
  let t: TestDatabase | undefined;
  let system: LocalSystem | undefined;
  let viewer: BrowserPool | undefined;
  const leases: BrowserLease[] = [];
  beforeAll(async () => {
    t = await testDatabase(label, { migrate: false });
    system = await startLocalSystem({
      port: 0,
      databaseUrl: t.url,
      motoEndpoint: motoEndpoint(),
      queuePrefix: `${uniqueName(label)}-`,
      workers: false,
      schedules: { timers: false },
    });
    // Our own pages on loopback, not an untrusted directory page.
    viewer = new BrowserPool({ recycleAfterPages: 100, network: 'unrestricted' });
  });
  afterAll(async () => {
    for (const l of leases) await l.release();
    await viewer?.close();
    await system?.stop();
    await t?.close();
  });
  return {
    get system() {
      if (!system) throw new Error('the local system has not started');
      return system;
    },
    async lease(options) {
      if (!viewer) throw new Error('the viewer has not started');
      const l = await viewer.acquire(options);
      leases.push(l);
      return l;
    },
  };
}
