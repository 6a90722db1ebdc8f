/** Maps the stage's retention in days to CDK's RetentionDays (the stage config admits only valid values). */
import { RetentionDays } from 'aws-cdk-lib/aws-logs';

export function logRetentionOf(days: number): RetentionDays {
  const found = Object.values(RetentionDays).find((v) => v === days);
  if (found === undefined) throw new Error(`CloudWatch Logs has no ${days}-day retention`);
  return found as RetentionDays;
}
