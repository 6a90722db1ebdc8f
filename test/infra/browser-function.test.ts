/**
 * The browser function cannot be deployed with its network guard opened: the local runtime's allowance of
 * loopback fixture sites is refused at synth, with the construct's other problems, before the worker would
 * refuse it at cold start.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { BrowserFunction } from '#lib/constructs/browser-function';

const props = {
  functionName: 'worker',
  entry: 'functions/worker.ts',
  description: 'worker',
  timeout: Duration.minutes(15),
  logRetention: 14,
} as const;

describe('BrowserFunction and the network guard', () => {
  it('refuses BROWSER_ALLOWED_ORIGINS in the environment, and sets nothing that opens the guard', () => {
    // No bundling: the template is what matters here.
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'S');
    expect(
      () =>
        new BrowserFunction(stack, 'Open', {
          ...props,
          functionName: 'open',
          memorySize: 1024,
          environment: { BROWSER_ALLOWED_ORIGINS: 'http://10.0.0.5:8080' },
        }),
    ).toThrow(/memorySize must be at least 2048[\s\S]*must not set BROWSER_ALLOWED_ORIGINS/);

    new BrowserFunction(stack, 'Closed', props);
    const [fn] = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function'));
    const variables = (fn as { Properties: { Environment?: { Variables?: object } } }).Properties.Environment
      ?.Variables;
    expect(Object.keys(variables ?? {})).not.toContain('BROWSER_ALLOWED_ORIGINS');
  });
});
