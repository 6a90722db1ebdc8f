/**
 * What reaches Slack: formfleet alerts, CloudWatch alarm state changes and unanticipated messages all become
 * Block Kit messages with title, severity, counts, the first few items, a runbook link and the time, within
 * Slack's limits, whatever the input.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Alert, makeAlert, parseAlert } from '#functions/alerts/alert';
import { alertFromSns } from '#functions/alerts/alert-from-sns';
import { snsSubject } from '#functions/alerts/alerts';
import { alertFromCloudWatchAlarm, runbookFromDescription } from '#functions/alerts/cloudwatch-alarm';
import { SLACK_LIMITS, toSlackMessage } from '#functions/alerts/slack-blocks';
import { ALERTS } from '#policy';

const TIME = '2026-05-01T10:00:00.000Z';

function dlqAlert(overrides: Partial<Alert> = {}): Alert {
  return {
    ...makeAlert({
      id: 'dlq:P1:1:new',
      kind: 'dlq',
      severity: 'critical',
      title: 'P1 dead-letter queue has 12 messages',
      summary: 'Jobs failed 5 deliveries.',
      counts: { depth: 12, internal: 2 },
      items: Array.from({ length: 12 }, (_, i) => ({
        title: `job-${i}`,
        fields: { errorClass: 'internal', customer: `c-${i}`, error: null },
      })),
      runbook: 'docs/runbooks/dlq.md',
      time: TIME,
    }),
    ...overrides,
  };
}

type Block = {
  type: string;
  text?: { text: string };
  fields?: { text: string }[];
  elements?: { text: string }[];
};

function allTexts(blocks: readonly Record<string, unknown>[]): string[] {
  return (blocks as Block[]).flatMap((b) => [
    ...(b.text ? [b.text.text] : []),
    ...(b.fields ?? []).map((f) => f.text),
    ...(b.elements ?? []).map((e) => e.text),
  ]);
}

function withinSlackLimits(message: { text: string; blocks: Record<string, unknown>[] }): void {
  expect(message.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
  expect(message.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fallbackText);
  for (const block of message.blocks as Block[]) {
    if (block.type === 'header') expect(block.text?.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
    if (block.text) expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    expect((block.fields ?? []).length).toBeLessThanOrEqual(SLACK_LIMITS.fields);
    for (const f of block.fields ?? []) expect(f.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldText);
  }
}

describe('Block Kit formatting', () => {
  it('shows title with severity, summary, counts, the first few items, the runbook link and the time', () => {
    const message = toSlackMessage(dlqAlert(), {
      runbookBaseUrl: 'https://git.example/formfleet/blob/main/',
    });
    const [header, summary, fields, items, context] = message.blocks as Block[];
    expect(header).toMatchObject({ type: 'header' });
    expect(header?.text?.text).toBe(':rotating_light: P1 dead-letter queue has 12 messages');
    expect(summary?.text?.text).toBe('Jobs failed 5 deliveries.');
    expect(fields?.fields?.map((f) => f.text)).toEqual([
      '*Severity*\ncritical',
      '*Kind*\ndlq',
      '*depth*\n12',
      '*internal*\n2',
    ]);
    expect(items?.text?.text.split('\n')).toHaveLength(1 + ALERTS.maxItems);
    expect(items?.text?.text).toMatch(
      /^\*First 5 of 12\*\n• \*job-0\* {2}errorClass: internal · customer: c-0/,
    );
    expect(context?.elements?.[0]?.text).toBe(
      'Runbook: <https://git.example/formfleet/blob/main/docs/runbooks/dlq.md|docs/runbooks/dlq.md>',
    );
    expect(context?.elements?.[1]?.text).toBe(
      `<!date^${Date.parse(TIME) / 1000}^{date_short_pretty} {time_secs}|${TIME}>`,
    );
    expect(message.text).toBe('[CRITICAL] P1 dead-letter queue has 12 messages — Jobs failed 5 deliveries.');
  });

  it('marks resolutions as such and names a missing runbook', () => {
    const message = toSlackMessage(
      dlqAlert({ kind: 'dlq_resolved', severity: 'info', title: 'P1 drained', items: [], runbook: null }),
    );
    const texts = allTexts(message.blocks);
    expect(texts[0]).toBe(':white_check_mark: P1 drained');
    expect(texts).toContain('No runbook');
    expect(message.blocks.map((b) => b.type)).toEqual(['header', 'section', 'section', 'context']);
  });

  it('escapes mrkdwn control characters so text cannot forge links or mentions', () => {
    const message = toSlackMessage(
      dlqAlert({ summary: 'error <!channel> & <https://evil.example|click>', items: [{ title: '<@U123>' }] }),
    );
    const texts = allTexts(message.blocks).join('\n');
    expect(texts).not.toMatch(/<!channel>|<@U123>|<https:\/\/evil/);
    expect(texts).toContain('error &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;');
  });

  it('keeps any alert within Slack limits', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 400 }),
        fc.string({ maxLength: 8_000 }),
        fc.dictionary(fc.string({ minLength: 1, maxLength: 50 }), fc.integer(), { maxKeys: 30 }),
        fc.array(
          fc.record({
            title: fc.string({ maxLength: 300 }),
            fields: fc.dictionary(fc.string({ maxLength: 20 }), fc.string({ maxLength: 2_000 })),
          }),
          { maxLength: 20 },
        ),
        (title, summary, counts, items) => {
          const alert = makeAlert({
            id: 'x',
            kind: 'notice',
            severity: 'warning',
            title: title || 't',
            summary,
            counts,
            items,
            runbook: null,
            time: TIME,
          });
          withinSlackLimits(toSlackMessage(alert));
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('CloudWatch alarm messages', () => {
  const alarm = {
    AlarmName: 'formfleet-prod-DLQ visible > 0 (P1)',
    AlarmDescription: 'Jobs are dead-lettered. Runbook: docs/runbooks/dlq.md',
    AlarmArn: 'arn:aws:cloudwatch:us-east-1:123456789012:alarm:formfleet-prod-dlq-p1',
    AWSAccountId: '123456789012',
    NewStateValue: 'ALARM' as const,
    OldStateValue: 'OK',
    NewStateReason: 'Threshold Crossed: 1 datapoint [3.0] was greater than the threshold (0.0).',
    StateChangeTime: '2026-05-01T10:00:00.000+0000',
    Region: 'US East (N. Virginia)',
    Trigger: {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Namespace: 'AWS/SQS',
      Statistic: 'MAXIMUM',
      Dimensions: [{ name: 'QueueName', value: 'formfleet-prod-p1-dlq.fifo' }],
      Period: 300,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    },
  };

  it('turns ALARM into a critical alert with the runbook from the description and a stable id', () => {
    const alert = alertFromSns({
      message: JSON.stringify(alarm),
      subject: 'ALARM: "formfleet-prod-DLQ visible > 0 (P1)"',
      messageId: 'm1',
      timestamp: '2026-05-01T10:00:05.000Z',
    });
    expect(alert).toMatchObject({
      id: `alarm:${alarm.AlarmArn}:ALARM:2026-05-01T10:00:00.000Z`,
      kind: 'alarm',
      severity: 'critical',
      title: 'Alarm: formfleet-prod-DLQ visible > 0 (P1)',
      runbook: 'docs/runbooks/dlq.md',
      time: '2026-05-01T10:00:00.000Z',
      counts: { threshold: 0 },
    });
    expect(alert.summary).toContain('Threshold Crossed');
    expect(alert.items[0]?.fields).toMatchObject({
      metric: 'AWS/SQS/ApproximateNumberOfMessagesVisible',
      dimensions: 'QueueName=formfleet-prod-p1-dlq.fifo',
      condition: 'GreaterThanThreshold 0',
      previous: 'OK',
    });
    withinSlackLimits(toSlackMessage(alert));
  });

  it('turns OK into a resolution and INSUFFICIENT_DATA into a warning, metric math included', () => {
    const ok = alertFromCloudWatchAlarm({ ...alarm, NewStateValue: 'OK', OldStateValue: 'ALARM' }, TIME);
    expect(ok).toMatchObject({
      kind: 'alarm_resolved',
      severity: 'info',
      title: expect.stringMatching(/^Resolved/),
    });
    const math = alertFromCloudWatchAlarm(
      {
        ...alarm,
        NewStateValue: 'INSUFFICIENT_DATA',
        Trigger: { Metrics: [{ Id: 'rate', Expression: 'errors / invocations * 100' }], Period: 60 },
      },
      TIME,
    );
    expect(math).toMatchObject({ kind: 'alarm', severity: 'warning' });
    expect(math.items[0]?.fields?.expression).toBe('errors / invocations * 100');
  });

  it('finds runbook URLs and paths in descriptions', () => {
    expect(runbookFromDescription('see https://wiki.example/runbooks/dlq.md now')).toBe(
      'https://wiki.example/runbooks/dlq.md',
    );
    expect(runbookFromDescription('see docs/runbooks/queue-depth.md')).toBe('docs/runbooks/queue-depth.md');
    expect(runbookFromDescription('nothing here')).toBeNull();
    expect(runbookFromDescription(undefined)).toBeNull();
  });
});

describe('messages on the alerts topic', () => {
  it("passes formfleet's own alerts through unchanged", () => {
    const alert = dlqAlert();
    const parsed = alertFromSns({ message: JSON.stringify(alert), messageId: 'm', timestamp: TIME });
    expect(parsed).toEqual(alert);
  });

  it('shows an invalid or foreign message as a notice instead of dropping it', () => {
    const invalid = alertFromSns({
      message: JSON.stringify({ id: 'x', kind: 'bogus', title: '' }),
      messageId: 'm2',
      timestamp: TIME,
    });
    expect(invalid).toMatchObject({ id: 'sns:m2', kind: 'notice', severity: 'warning' });
    expect(invalid.summary).toMatch(/invalid alert: kind .*; severity .*; title/);
    const text = alertFromSns({
      message: 'disk almost full',
      subject: 'Ops',
      messageId: 'm3',
      timestamp: TIME,
    });
    expect(text).toMatchObject({ id: 'sns:m3', title: 'Ops', summary: 'disk almost full' });
  });

  it('never throws, and always yields a message Slack accepts', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), fc.option(fc.string()), (message, subject) => {
        const alert = alertFromSns({ message, subject, messageId: 'm', timestamp: TIME });
        withinSlackLimits(toSlackMessage(alert));
      }),
      { numRuns: 200 },
    );
  });

  it('names every bad field of an alert', () => {
    expect(() =>
      parseAlert({ id: '', kind: 'dlq', severity: 'loud', title: 't', summary: 1, time: 'x' }),
    ).toThrow(
      'invalid alert: id (non-empty string); severity (critical, warning, info); summary (string); time (ISO 8601)',
    );
    expect(() => parseAlert([])).toThrow(/must be a JSON object/);
  });

  it('gives SNS a printable subject of at most 100 characters', () => {
    const subject = snsSubject(dlqAlert({ title: `Ünïcode ${'x'.repeat(200)}` }));
    expect(subject.length).toBeLessThanOrEqual(100);
    expect(subject).toMatch(/^\[critical\] \?n\?code x+~$/);
  });
});
