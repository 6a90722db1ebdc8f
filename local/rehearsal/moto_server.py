"""moto server for the deploy rehearsal and the preflight tests: moto 5.2.5 (pinned in requirements.txt) with
the few fixes and additions a `cdk deploy` and `npm run preflight` need, applied in this process only, so the
installed package stays as pinned (a moto upgrade is refused below until these are reviewed).

1. KMS keys from CloudFormation: CloudFormation spells tags Key/Value, moto's KMS tagger wants
   TagKey/TagValue and fails the key (and with it every Fn::GetAtt on it).
2. Custom resources: moto invokes the provider Lambda in Docker, and serialising the event fails when a
   property holds a Ref to an AWS::Lambda::Version (CDK's Custom::Trigger does). Here the event, with plain
   values, goes to the rehearsal (REHEARSAL_PROVIDER_URL), which plays the provider and answers on the
   ResponseURL, as a real provider would.
3. A Fn::GetAtt to a resource type moto does not model (alarms, WAF, API keys...) fails the stack, and a Ref
   to one in an output exports nothing (so the importing stack fails); both resolve to a
   "not-rehearsed:<type>:<id>.<attribute>" marker instead (the rehearsal lists what was skipped).
4. Lambda GetAccountSettings, which moto lacks: the account's concurrency quota from
   REHEARSAL_LAMBDA_QUOTAS (JSON, account id -> quota, default 1000), unreserved = quota - reservations.
5. A Ref to an AWS::Lambda::Version is the version's ARN, as in CloudFormation (moto gives the model
   object, which custom-resource properties such as the trigger's HandlerArn cannot carry).
6. A resource is created once: a custom resource's answer, handled on another thread while the stack is still
   being created, no longer races the creating thread into creating a resource twice (below).

Usage: python moto_server.py -H 127.0.0.1 -p PORT (the arguments of moto_server).
"""

import json
import os
import sys
import threading
import urllib.request

import moto

PINNED = "5.2.5"
if moto.__version__ != PINNED:
    sys.exit(f"these moto patches are written for moto {PINNED}, found {moto.__version__}: review them")

from moto.awslambda import urls as lambda_urls  # noqa: E402
from moto.awslambda.models import LambdaVersion, lambda_backends  # noqa: E402
from moto.cloudformation import cloudformation_backends, custom_model, parsing  # noqa: E402
from moto.core.responses import BaseResponse  # noqa: E402
from moto.kms.models import Key  # noqa: E402
from moto.moto_api._internal import mock_random  # noqa: E402

# 1. KMS key tags.
_key_from_cfn = Key.create_from_cloudformation_json.__func__


@classmethod
def _key_with_cfn_tags(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    props = dict(cloudformation_json["Properties"])
    props["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in props.get("Tags", [])]
    return _key_from_cfn(cls, resource_name, {**cloudformation_json, "Properties": props}, account_id, region_name, **kwargs)


Key.create_from_cloudformation_json = _key_with_cfn_tags


# 2. Custom resources go to the rehearsal.
def _plain(value):
    for attr in ("arn", "physical_resource_id"):
        if hasattr(value, attr):
            return getattr(value, attr)
    return str(value)


@classmethod
def _custom_resource_to_rehearsal(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    stack_id = kwargs["StackId"]
    properties = cloudformation_json["Properties"]
    resource = custom_model.CustomModel(region_name, str(mock_random.uuid4()), kwargs["LogicalId"], resource_name)
    cloudformation_backends[account_id][region_name].get_stack(stack_id).add_custom_resource(resource)
    event = {
        "RequestType": "Create",
        "ServiceToken": properties["ServiceToken"],
        "ResponseURL": f"http://127.0.0.1:{os.environ['MOTO_PORT']}/cloudformation_{region_name}/cfnresponse?stack={stack_id}",
        "StackId": stack_id,
        "RequestId": resource.request_id,
        "LogicalResourceId": kwargs["LogicalId"],
        "ResourceType": kwargs["ResourceType"],
        "ResourceProperties": properties,
    }
    target = os.environ.get("REHEARSAL_PROVIDER_URL")
    if target:
        request = urllib.request.Request(
            target, data=json.dumps(event, default=_plain).encode(), headers={"content-type": "application/json"}
        )
        threading.Thread(target=lambda: urllib.request.urlopen(request, timeout=900).read(), daemon=True).start()
    return resource


custom_model.CustomModel.create_from_cloudformation_json = _custom_resource_to_rehearsal

# 3. Fn::GetAtt on a resource moto skips.
_clean_json = parsing.clean_json


_in_output = threading.local()


def _clean_json_skipping(resource_json, resources_map):
    # A Ref elsewhere stays None, as moto has it: resources that take one (a method's validator) accept that.
    refs = getattr(_in_output, "active", False)
    if isinstance(resource_json, dict) and ("Fn::GetAtt" in resource_json or (refs and "Ref" in resource_json)):
        target = resource_json.get("Fn::GetAtt") or [resource_json["Ref"], "Ref"]
        name, attribute = target[0], target[1]
        declared = getattr(resources_map, "_resource_json_map", {}).get(name) if isinstance(name, str) else None
        if declared is not None and resources_map.get(name) is None:
            return f"not-rehearsed:{declared['Type']}:{name}.{attribute}"
    return _clean_json(resource_json, resources_map)


parsing.clean_json = _clean_json_skipping
_parse_output = parsing.parse_output


def _parse_output_with_markers(output_logical_id, output_json, resources_map):
    _in_output.active = True
    try:
        return _parse_output(output_logical_id, output_json, resources_map)
    finally:
        _in_output.active = False


parsing.parse_output = _parse_output_with_markers
_exports = parsing.OutputMap.exports.fget


def _exports_with_markers(self):
    _in_output.active = True
    try:
        return _exports(self)
    finally:
        _in_output.active = False


parsing.OutputMap.exports = property(_exports_with_markers)


# 4. Lambda GetAccountSettings.
class _AccountSettings(BaseResponse):
    def __init__(self):
        super().__init__(service_name="awslambda")

    @classmethod
    def respond(cls, request, full_url, headers):
        self = cls()
        self.setup_class(request, full_url, headers)
        account = self.get_current_account()
        quota = int(json.loads(os.environ.get("REHEARSAL_LAMBDA_QUOTAS", "{}")).get(account, 1000))
        functions = list(lambda_backends[account][self.region].list_functions())
        reserved = sum(int(f.reserved_concurrency or 0) for f in functions)
        return 200, {"content-type": "application/json"}, json.dumps(
            {
                "AccountLimit": {
                    "TotalCodeSize": 80530636800,
                    "CodeSizeUnzipped": 262144000,
                    "CodeSizeZipped": 52428800,
                    "ConcurrentExecutions": quota,
                    "UnreservedConcurrentExecutions": quota - reserved,
                },
                "AccountUsage": {"TotalCodeSize": 0, "FunctionCount": len(functions)},
            }
        )


lambda_urls.url_paths[r"{0}/(?P<api_version>[^/]+)/account-settings/?$"] = _AccountSettings.respond


# 5. AWS::Lambda::Version's Ref.
@classmethod
def _version_with_arn(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    name = cloudformation_json["Properties"]["FunctionName"]
    function = lambda_backends[account_id][region_name].publish_version(name)
    version = LambdaVersion({"Version": function.version})
    version.arn = function.function_arn
    return version


LambdaVersion.create_from_cloudformation_json = _version_with_arn
LambdaVersion.physical_resource_id = property(lambda self: self.arn)


# 6. One resource, created once. A custom resource's answer (the ResponseURL) arrives on another request thread
#    while the stack is still being created, and moto's readiness check there creates every resource not yet
#    parsed, racing the creating thread: a resource that takes long to create (a browser function's large code
#    package) was created twice, the second object replacing the first, and what the race had already attached
#    to the first (an AWS::Lambda::Permission's statement) was lost. Resource lookup-or-create now holds one
#    re-entrant lock (creating a resource resolves the others it refers to).
_resource_lock = threading.RLock()
_getitem = parsing.ResourceMap.__getitem__


def _getitem_once(self, key):
    with _resource_lock:
        return _getitem(self, key)


parsing.ResourceMap.__getitem__ = _getitem_once

from moto.server import main  # noqa: E402

main(sys.argv[1:])
