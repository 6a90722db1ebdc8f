import { describe, expect, it } from 'vitest';
import { DefinitionError, parseFormDefinition } from '#functions/worker/form-definition';
import { simpleForm } from '#local/fixtures/sites';

const valid = () => JSON.parse(JSON.stringify(simpleForm.definition('http://127.0.0.1:9')));

// biome-ignore lint/suspicious/noExplicitAny: tests poke arbitrary wrong shapes into the JSON
type Json = any;

function refusal(mutate: (d: Json) => void): string {
  const d = valid();
  mutate(d);
  try {
    parseFormDefinition(d);
  } catch (err) {
    expect(err).toBeInstanceOf(DefinitionError);
    return (err as DefinitionError).field;
  }
  throw new Error('definition was accepted');
}

describe('form definitions', () => {
  it('accepts the fixture definitions', () => {
    expect(parseFormDefinition(valid()).steps.length).toBeGreaterThan(2);
  });

  it('names the field of every refusal', () => {
    expect(refusal((d) => (d.submissionUrl = 'ftp://x'))).toBe('definition.submissionUrl');
    expect(refusal((d) => (d.steps = []))).toBe('definition.steps');
    expect(refusal((d) => (d.steps[1].action = 'type'))).toBe('definition.steps[1].action');
    expect(refusal((d) => (d.steps[1].field = 'ssn'))).toBe('definition.steps[1].field');
    expect(refusal((d) => (d.steps[1].selectors = []))).toBe('definition.steps[1].selectors');
    expect(refusal((d) => d.steps.pop())).toBe('definition.steps');
    expect(refusal((d) => (d.success = []))).toBe('definition.success');
    expect(refusal((d) => (d.success = [{ urlPattern: '(' }]))).toBe('definition.success[0].urlPattern');
    expect(refusal((d) => (d.failure = [{}]))).toBe('definition.failure[0]');
    expect(refusal((d) => (d.timeouts = { stepMs: 5 }))).toBe('definition.timeouts.stepMs');
    expect(refusal((d) => d.steps.splice(1, 0, { action: 'waitFor' }))).toBe('definition.steps[1]');
    expect(refusal((d) => d.steps.splice(1, 0, { action: 'select', selectors: ['#x'] }))).toBe(
      'definition.steps[1]',
    );
  });

  it('takes how a directory declines a listing and where a found one lives, each said one way', () => {
    const d = valid();
    d.rejected = [{ selector: '#declined' }, { text: 'not approved' }];
    d.verify.listingUrl = { selector: 'a.permalink', attribute: 'data-href' };
    expect(parseFormDefinition(d)).toMatchObject({
      rejected: [{ selector: '#declined' }, { text: 'not approved' }],
      verify: { listingUrl: { selector: 'a.permalink', attribute: 'data-href' } },
    });
    d.verify.listingUrl = { pageUrl: true };
    expect(parseFormDefinition(d).verify?.listingUrl).toEqual({ pageUrl: true });

    // A rejection shows on the lookup page: no verify, no rejected.
    expect(
      refusal((x) => {
        x.rejected = [{ selector: '#declined' }];
        delete x.verify;
      }),
    ).toBe('definition.verify');
    expect(refusal((x) => (x.rejected = [{}]))).toBe('definition.rejected[0]');
    for (const listingUrl of [
      {},
      { pageUrl: false },
      { selector: 'a', pageUrl: true },
      { pageUrl: true, attribute: 'href' },
      { attribute: 'href' },
      { selector: '   ' },
      { selector: 'a', href: 'x' },
    ]) {
      expect(
        refusal((x) => (x.verify.listingUrl = listingUrl)),
        JSON.stringify(listingUrl),
      ).toMatch(/^definition\.verify\.listingUrl/);
    }
  });
});
