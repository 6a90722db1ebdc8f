/**
 * Inbound mail in the stacks (issue 13 item 4): a stage with `inboundMailDomain` gets an SES receipt rule set
 * whose one rule stores every mail for the domain in the records bucket under mail/ and then invokes
 * mail-inbound asynchronously; the bucket lets exactly that rule write exactly mail/; SES may invoke the
 * function only for that rule; the worker and mail-inbound learn the domain. A stage without it gets none
 * of these. moto's CloudFormation models no SES receipt rules, so these Template assertions are what checks
 * them (docs/infrastructure.md, "Not rehearsed").
 */
import { describe, expect, it } from 'vitest';
import { ASYNC_INVOKE } from '#policy';
import { type Loose, resourcesOf, synthStage, testStage } from './support.ts';

const DOMAIN = 'inbound.example.com';
const RULE_ARN = {
  'Fn::Join': [
    '',
    [
      'arn:aws:ses:us-east-1:',
      { Ref: 'AWS::AccountId' },
      ':receipt-rule-set/test-formfleet-inbound-mail:receipt-rule/test-formfleet-verification-mail',
    ],
  ],
};

const withMail = synthStage({ stage: testStage({ inboundMailDomain: DOMAIN }) });
const without = synthStage();

const ofType = (resources: Record<string, Loose>, type: string) =>
  Object.values(resources).filter((r: Loose) => r.Type === type) as Loose[];

const functionNamed = (resources: Record<string, Loose>, name: string) =>
  ofType(resources, 'AWS::Lambda::Function').find((f) => f.Properties.FunctionName === name);

describe('inbound mail', () => {
  it('receives the domain with one rule: store under mail/, then invoke mail-inbound as an event', () => {
    const app = resourcesOf(withMail.appTemplate);
    const [ruleSet] = ofType(app, 'AWS::SES::ReceiptRuleSet');
    expect(ruleSet.Properties).toEqual({ RuleSetName: 'test-formfleet-inbound-mail' });
    const rules = ofType(app, 'AWS::SES::ReceiptRule');
    expect(rules).toHaveLength(1);
    const rule = rules[0].Properties;
    expect(rule.RuleSetName).toBe('test-formfleet-inbound-mail');
    expect(rule.Rule).toMatchObject({
      Name: 'test-formfleet-verification-mail',
      Enabled: true,
      Recipients: [DOMAIN],
      ScanEnabled: true,
      TlsPolicy: 'Require',
    });
    const [store, invoke] = rule.Rule.Actions;
    expect(store.S3Action).toEqual({
      BucketName: { 'Fn::ImportValue': 'test-formfleet-records-bucket-name' },
      ObjectKeyPrefix: 'mail/',
    });
    expect(invoke.LambdaAction.InvocationType).toBe('Event');
    const mailFn = Object.entries(app).find(
      ([, r]: [string, Loose]) => r.Properties?.FunctionName === 'formfleet-test-mail-inbound',
    )?.[0];
    expect(invoke.LambdaAction.FunctionArn).toEqual({ 'Fn::GetAtt': [mailFn, 'Arn'] });

    // SES may invoke it for this rule of this account only; the rule waits for the permission and the set.
    const permissions = ofType(app, 'AWS::Lambda::Permission').filter(
      (p) => p.Properties.Principal === 'ses.amazonaws.com',
    );
    expect(permissions).toHaveLength(1);
    expect(permissions[0].Properties).toMatchObject({
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [mailFn, 'Arn'] },
      SourceAccount: { Ref: 'AWS::AccountId' },
      SourceArn: RULE_ARN,
    });
    expect(rules[0].DependsOn).toHaveLength(2);

    // Async: Lambda's retries (a mail that came before its submission asks for them), then kept on failure.
    const invokeConfigs = ofType(app, 'AWS::Lambda::EventInvokeConfig').filter((c) =>
      JSON.stringify(c.Properties.FunctionName).includes(mailFn as string),
    );
    expect(invokeConfigs).toHaveLength(1);
    expect(invokeConfigs[0].Properties.MaximumRetryAttempts).toBe(ASYNC_INVOKE.mailRetryAttempts);
    expect(invokeConfigs[0].Properties.DestinationConfig.OnFailure.Destination).toBeDefined();
  });

  it('lets SES write mail/ in the records bucket for that rule only', () => {
    const policies = ofType(resourcesOf(withMail.data), 'AWS::S3::BucketPolicy');
    const statements = policies.flatMap((p) => p.Properties.PolicyDocument.Statement as Loose[]);
    const ses = statements.filter((s) => s.Principal?.Service === 'ses.amazonaws.com');
    expect(ses).toHaveLength(1);
    expect(ses[0]).toMatchObject({
      Effect: 'Allow',
      Action: 's3:PutObject',
      Condition: {
        StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
        ArnLike: { 'aws:SourceArn': RULE_ARN },
      },
    });
    expect(JSON.stringify(ses[0].Resource)).toContain('/mail/*');
  });

  it('tells the worker and mail-inbound the domain, and nothing else', () => {
    const app = resourcesOf(withMail.appTemplate);
    const domainOf = (name: string) =>
      functionNamed(app, `formfleet-test-${name}`)?.Properties.Environment?.Variables?.INBOUND_MAIL_DOMAIN;
    expect(domainOf('worker')).toBe(DOMAIN);
    expect(domainOf('mail-inbound')).toBe(DOMAIN);
    expect(domainOf('api-jobs')).toBeUndefined();
    expect(domainOf('recheck-listings')).toBeUndefined();
  });

  it('builds no receipt rule, SES grant or domain on a stage without one', () => {
    const app = resourcesOf(without.appTemplate);
    expect(ofType(app, 'AWS::SES::ReceiptRuleSet')).toEqual([]);
    expect(ofType(app, 'AWS::SES::ReceiptRule')).toEqual([]);
    expect(
      ofType(app, 'AWS::Lambda::Permission').filter((p) => p.Properties.Principal === 'ses.amazonaws.com'),
    ).toEqual([]);
    expect(JSON.stringify(without.data.toJSON())).not.toContain('ses.amazonaws.com');
    expect(
      functionNamed(app, 'formfleet-test-worker')?.Properties.Environment?.Variables?.INBOUND_MAIL_DOMAIN,
    ).toBeUndefined();
  });

  it('refuses a domain that is not one', () => {
    for (const bad of ['Inbound.Example.com', 'localhost', 'a..b.com', 'mail.example.com.', 5]) {
      expect(() => testStage({ inboundMailDomain: bad }), String(bad)).toThrow(/inboundMailDomain/);
    }
  });
});
