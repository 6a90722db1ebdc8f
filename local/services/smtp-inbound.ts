/**
 * The local stand-in for SES receiving: an SMTP server on loopback (Nodemailer's smtp-server; no SMTP is
 * written here) for the inbound mail domain that does what the stage's receipt rule does in AWS: it accepts
 * mail for recipients on the domain only (SES answers 550 for others), up to SES's own size limit, stores the
 * raw mail in the records bucket under mail/<message id> (moto S3), and then invokes mail-inbound with the
 * SES event of that mail (the envelope recipients and the message id), asynchronously, after the sender was
 * told 250. An invocation that fails is retried on MAIL.earlyRetryMs, as Lambda retries SES's event.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { SESEvent } from 'aws-lambda';
import { SMTPServer } from 'smtp-server';
import { onDomain } from '#functions/mail/alias';
import { MAIL } from '#policy';
import type { ObjectStore } from '#shared/object-store';
import { recordsPrefix } from '#shared/object-store';
import { describeError } from '#shared/telemetry';

export type InboundHandler = (event: SESEvent) => Promise<unknown>;

export interface SmtpInboundOptions {
  domain: string;
  objects: Pick<ObjectStore, 'put'>;
  log?: (line: string) => void;
  /** Delays between tries of a failing invocation. @default MAIL.earlyRetryMs */
  retryMs?: readonly number[];
  /** Largest mail accepted. @default MAIL.receiveMaxBytes (SES's) */
  maxBytes?: number;
  /** @default 0 (an ephemeral port) */
  port?: number;
}

export interface SmtpInbound {
  readonly host: string;
  readonly port: number;
  readonly domain: string;
  /** Mail-inbound (built after the stand-ins): mail received before it is set waits for it. */
  deliverTo(handler: InboundHandler): void;
  /** Resolves once every mail received so far has been handed over (each try ended, retries included). */
  idle(): Promise<void>;
  /** Message ids stored, oldest first. */
  readonly received: string[];
  stop(): Promise<void>;
}

/** A message id as SES makes them: lower-case letters and digits. */
const messageId = () => randomBytes(15).toString('hex');

export async function startSmtpInbound(options: SmtpInboundOptions): Promise<SmtpInbound> {
  const log = options.log ?? (() => {});
  const retryMs = options.retryMs ?? MAIL.earlyRetryMs;
  const maxBytes = options.maxBytes ?? MAIL.receiveMaxBytes;
  let handler: InboundHandler | undefined;
  let handlerReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    handlerReady = resolve;
  });
  const pending = new Set<Promise<void>>();
  const received: string[] = [];
  let stopping = false;

  async function invoke(event: SESEvent): Promise<void> {
    await ready;
    for (let attempt = 0; ; attempt++) {
      if (stopping || !handler) return;
      try {
        await handler(event);
        return;
      } catch (err) {
        const delay = retryMs[attempt];
        if (delay === undefined) {
          log(`mail-inbound failed for good: ${describeError(err).message}`);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    }
  }

  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: maxBytes,
    banner: 'formfleet local inbound mail (SES stand-in)',
    logger: false,
    onRcptTo(address, _session, callback) {
      if (!onDomain(address.address, options.domain)) {
        const err = new Error(`550 ${address.address}: this server only receives mail for ${options.domain}`);
        (err as Error & { responseCode: number }).responseCode = 550;
        return callback(err);
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (stream.sizeExceeded) {
          const err = new Error(`552 the message exceeds ${maxBytes} bytes`);
          (err as Error & { responseCode: number }).responseCode = 552;
          return callback(err);
        }
        const id = messageId();
        const body = Buffer.concat(chunks);
        const recipients = session.envelope.rcptTo.map((r) => r.address);
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        options.objects
          .put(`${recordsPrefix('mail')}${id}`, body, { contentType: 'message/rfc822' })
          .then(() => {
            received.push(id);
            callback(null, `Ok: queued as ${id}`);
            const delivery = invoke(sesEvent(id, from, recipients)).finally(() => pending.delete(delivery));
            pending.add(delivery);
          })
          .catch((err: unknown) => {
            log(`inbound mail not stored: ${describeError(err).message}`);
            const refusal = new Error('451 try again later');
            (refusal as Error & { responseCode: number }).responseCode = 451;
            callback(refusal);
          });
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  log(`inbound mail: smtp://127.0.0.1:${port} for *@${options.domain}`);

  return {
    host: '127.0.0.1',
    port,
    domain: options.domain,
    received,
    deliverTo(h) {
      handler = h;
      handlerReady();
    },
    async idle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
    async stop() {
      stopping = true;
      handlerReady();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled([...pending]);
    },
  };
}

/** The event SES's Lambda action sends for a stored mail (the fields mail-inbound reads, and their kin). */
export function sesEvent(id: string, from: string, recipients: readonly string[]): SESEvent {
  const timestamp = new Date().toISOString();
  return {
    Records: [
      {
        eventSource: 'aws:ses',
        eventVersion: '1.0',
        ses: {
          mail: {
            timestamp,
            source: from,
            messageId: id,
            destination: [...recipients],
            headersTruncated: false,
            headers: [],
            commonHeaders: { returnPath: from, date: timestamp, messageId: id },
          },
          receipt: {
            timestamp,
            processingTimeMillis: 0,
            recipients: [...recipients],
            spamVerdict: { status: 'PASS' },
            virusVerdict: { status: 'PASS' },
            spfVerdict: { status: 'PASS' },
            dkimVerdict: { status: 'PASS' },
            dmarcVerdict: { status: 'PASS' },
            action: {
              type: 'Lambda',
              functionArn: 'arn:aws:lambda:local:000000000000:function:mail-inbound',
              invocationType: 'Event',
            },
          },
        },
      },
    ],
  } as SESEvent;
}
