/**
 * An alert as a Slack Block Kit message: a header with the severity, the summary, the headline counts, the
 * first few items, and a context line with the runbook link and the time (rendered in each reader's time
 * zone). Every text is escaped and cut to Slack's limits, so a message is never refused for its size.
 */
import type { Alert, Severity } from './alert.ts';

/** Slack's documented limits for the blocks used here. */
export const SLACK_LIMITS = {
  headerText: 150,
  sectionText: 3_000,
  fieldText: 2_000,
  fields: 10,
  contextElements: 10,
  blocks: 50,
  fallbackText: 3_000,
} as const;

export interface SlackMessage {
  /** Fallback text for notifications and clients that cannot show blocks. */
  text: string;
  blocks: Record<string, unknown>[];
}

export interface FormatOptions {
  /** Base URL a runbook path is resolved against (e.g. the repository's blob URL); plain path otherwise. */
  runbookBaseUrl?: string | undefined;
}

const EMOJI: Record<Severity, string> = {
  critical: ':rotating_light:',
  warning: ':warning:',
  info: ':information_source:',
};

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function emojiFor(alert: Alert): string {
  if (alert.kind === 'dlq_resolved' || alert.kind === 'alarm_resolved') return ':white_check_mark:';
  return EMOJI[alert.severity];
}

function runbookLink(runbook: string, base: string | undefined): string {
  if (/^https?:\/\//.test(runbook)) return `<${runbook}|runbook>`;
  if (base) return `<${base.replace(/\/+$/, '')}/${runbook}|${escapeMrkdwn(runbook)}>`;
  return `\`${escapeMrkdwn(runbook)}\``;
}

function slackDate(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return escapeMrkdwn(iso);
  return `<!date^${Math.floor(ms / 1000)}^{date_short_pretty} {time_secs}|${iso}>`;
}

function itemLine(item: Alert['items'][number]): string {
  const fields = Object.entries(item.fields ?? {})
    .filter(([, v]) => v !== null && v !== undefined && v !== '')
    .map(([k, v]) => `${escapeMrkdwn(k)}: ${escapeMrkdwn(String(v))}`)
    .join(' · ');
  return `• *${escapeMrkdwn(item.title)}*${fields ? `  ${fields}` : ''}`;
}

export function toSlackMessage(alert: Alert, options: FormatOptions = {}): SlackMessage {
  const blocks: Record<string, unknown>[] = [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: truncate(`${emojiFor(alert)} ${alert.title}`, SLACK_LIMITS.headerText),
        emoji: true,
      },
    },
  ];
  if (alert.summary.trim()) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: truncate(escapeMrkdwn(alert.summary), SLACK_LIMITS.sectionText) },
    });
  }
  const fields = [
    `*Severity*\n${alert.severity}`,
    `*Kind*\n${alert.kind}`,
    ...Object.entries(alert.counts).map(([k, v]) => `*${escapeMrkdwn(k)}*\n${v}`),
  ]
    .slice(0, SLACK_LIMITS.fields)
    .map((text) => ({ type: 'mrkdwn', text: truncate(text, SLACK_LIMITS.fieldText) }));
  blocks.push({ type: 'section', fields });
  if (alert.items.length > 0) {
    const total = alert.totalItems ?? alert.items.length;
    const heading = total > alert.items.length ? `*First ${alert.items.length} of ${total}*` : '*Items*';
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate([heading, ...alert.items.map(itemLine)].join('\n'), SLACK_LIMITS.sectionText),
      },
    });
  }
  const context = [
    alert.runbook ? `Runbook: ${runbookLink(alert.runbook, options.runbookBaseUrl)}` : 'No runbook',
    slackDate(alert.time),
    `id \`${escapeMrkdwn(truncate(alert.id, 200))}\``,
  ];
  blocks.push({
    type: 'context',
    elements: context.slice(0, SLACK_LIMITS.contextElements).map((text) => ({ type: 'mrkdwn', text })),
  });
  const text = truncate(
    escapeMrkdwn(
      `[${alert.severity.toUpperCase()}] ${alert.title}${alert.summary ? ` — ${alert.summary}` : ''}`,
    ),
    SLACK_LIMITS.fallbackText,
  );
  return { text, blocks: blocks.slice(0, SLACK_LIMITS.blocks) };
}
