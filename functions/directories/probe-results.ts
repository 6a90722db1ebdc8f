/**
 * The words a dry run answers with, as data: the API's response schema (functions/api/schemas.ts) publishes
 * them without importing the browser code.
 */

/**
 * What became of one step: 'ok' (it ran; `selector` is what matched), 'skipped' (an optional step with
 * nothing to do: no element, or no value in the profile), 'missing' (no selector of the step matches: the
 * site changed), 'failed' (the element is there, the step failed: a value the select does not offer, a page
 * that refused the inner step), 'not_reached' (after the run stopped).
 */
export const DRY_RUN_STEP_STATUSES = ['ok', 'skipped', 'missing', 'failed', 'not_reached'] as const;
export type DryRunStepStatus = (typeof DRY_RUN_STEP_STATUSES)[number];

/**
 * How the dry run ended: 'ready' (every step ran and the submit control is there); 'drift' (a step's
 * elements are gone: `driftStep`); 'captcha', 'login_wall' (the directory needs a person or an account);
 * 'site_down', 'timeout', 'blocked_destination' (the site, not the definition); 'refused' (an inner page
 * refused the sample values); 'error' (anything else, in `error`).
 */
export const DRY_RUN_OUTCOMES = [
  'ready',
  'drift',
  'captcha',
  'login_wall',
  'site_down',
  'timeout',
  'blocked_destination',
  'refused',
  'error',
] as const;
export type DryRunOutcome = (typeof DRY_RUN_OUTCOMES)[number];
