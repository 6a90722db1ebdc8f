/**
 * One JSON POST to an alert destination (Slack's incoming webhook, PagerDuty's Events API) with a timeout:
 * the answer with the start of its body, or why no answer came, in words that never carry the URL (it may be
 * the credential).
 */

/** Longest piece of a destination's answer kept for an error message. */
const BODY_EXCERPT = 200;

export type PostOutcome = { response: Response; excerpt: string } | { failure: string };

export async function postJson(url: string, body: string, timeoutMs: number): Promise<PostOutcome> {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    return {
      failure:
        e.name === 'TimeoutError' || e.name === 'AbortError'
          ? `no answer within ${timeoutMs} ms`
          : `connection failed (${e.cause?.code ?? e.name})`,
    };
  }
  const excerpt = (await response.text().catch(() => '')).slice(0, BODY_EXCERPT);
  return { response, excerpt };
}
