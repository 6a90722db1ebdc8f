/** The alert raised when a directory is paused (written to the alert outbox with the pause). */
import { type Alert, makeAlert, RUNBOOKS } from '#functions/alerts/alert';
import type { Directory } from '#shared/directory-store';
import type { PauseCause } from './health-store.ts';

export function directoryPausedAlert(
  directory: Omit<Directory, 'definition'>,
  cause: PauseCause,
  time: Date,
): Alert {
  return makeAlert({
    // One alert per pause: the directory and the moment it was paused.
    id: `directory_paused:${directory.id}:${time.toISOString()}`,
    kind: 'directory_paused',
    severity: 'warning',
    title: `Directory paused: ${directory.name} (${directory.id})`,
    summary:
      `${directory.name} is paused: ${cause.reason}. Jobs skip it (skipped, directory_paused) until an admin ` +
      'fixes its definition and unpauses it (POST /v1/directories/{id}/unpause or ' +
      '`npm run ops -- directories unpause <id>`); a retry of those jobs then sends it.',
    // The step as a person counts it (the API's driftStep is its index).
    counts: cause.driftStep === null ? {} : { step: cause.driftStep + 1 },
    items: [
      {
        title: directory.id,
        fields: { site: directory.site, found: cause.source === 'dry_run' ? 'daily dry run' : 'submissions' },
      },
    ],
    runbook: RUNBOOKS.directoryPaused,
    time: time.toISOString(),
    source: 'directory-health',
  });
}
