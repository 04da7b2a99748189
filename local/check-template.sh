#!/usr/bin/env bash
# Offline checks of the AWS SAM template (template.yaml), runnable from a fresh clone:
#   1. cfn-lint: no error, no warning;
#   2. sam validate --lint (AWS's own lint of the SAM template, no AWS call);
#   3. the SAM transform, run locally, leaves no circular dependency between resources (a cycle
#      through the HTTP API's OpenAPI body slips past both linters);
#   3b. checkov, static analysis of the template's security settings: no failed check; each check
#      the template does not meet is skipped inline with its reason (`# checkov:skip=CKV_...:why`
#      beside the resource);
#   4. with SAM_BUILD=1, `sam build` (cargo lambda, release, arm64): SAM_BUILD_FUNCTION=<LogicalId>
#      builds one function only; SAM_BUILD_ARCH=x86_64 builds a throwaway x86_64 copy of the
#      template instead, to check the build pipeline on a machine without the aarch64 Rust target
#      (those binaries are not for deploying).
# cfn-lint and the SAM CLI are installed from PyPI, at the versions pinned in
# local/requirements/template.txt, into .local/venv-sam, and checkov (local/requirements/
# checkov.txt) into .local/venv-checkov, by local/bootstrap.sh (with SAM_BUILD=1, also
# cargo-lambda into .local/venv, as for `make build`).
# The route table, permissions and environment of the functions are checked by the Rust test
# shared/tests/api/template.rs, part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${SAM_BUILD:-0}" = 1 ]; then
    source local/bootstrap.sh template build
else
    source local/bootstrap.sh template
fi
venv=.local/venv-sam

# No AWS account is involved: dummy credentials, a fixed region, no instance metadata lookups,
# no telemetry.
export AWS_DEFAULT_REGION=eu-west-1 AWS_REGION=eu-west-1
export AWS_ACCESS_KEY_ID=dummy AWS_SECRET_ACCESS_KEY=dummy
unset AWS_SESSION_TOKEN AWS_PROFILE
export AWS_EC2_METADATA_DISABLED=true SAM_CLI_TELEMETRY=0

# Run the offline steps without any network at all where this machine allows it.
offline=()
if command -v unshare >/dev/null 2>&1 && unshare -rn true 2>/dev/null; then
    offline=(unshare -rn)
fi

echo "==> cfn-lint $("$venv/bin/cfn-lint" --version | awk '{print $2}') template.yaml"
"$venv/bin/cfn-lint" template.yaml

echo "==> sam validate --lint ($("$venv/bin/sam" --version))"
"${offline[@]}" "$venv/bin/sam" validate --lint --template template.yaml

echo "==> SAM transform: no circular dependency"
"${offline[@]}" "$venv/bin/python" - template.yaml <<'PY'
"""Runs the SAM transform locally (as CloudFormation would) and looks for a dependency cycle."""
import copy
import json
import re
import sys

import cfnlint.decode.cfn_yaml
from samtranslator.translator.transform import transform

template = json.loads(json.dumps(cfnlint.decode.cfn_yaml.load(sys.argv[1])))
# AWS::LanguageExtensions runs before the SAM transform in CloudFormation; all it does in this
# template is resolve the Fn::If of DeletionPolicy/UpdateReplacePolicy, which holds no reference.
transforms = template["Transform"]
template["Transform"] = [t for t in transforms if t != "AWS::LanguageExtensions"][0]
for resource in template["Resources"].values():
    for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
        if isinstance(resource.get(policy), dict):
            resource[policy] = "Snapshot"
    # `sam package` replaces local code paths with S3 locations before the transform.
    if resource.get("Type") == "AWS::Serverless::Function":
        resource["Properties"]["CodeUri"] = "s3://bucket/key.zip"


class ManagedPolicies:
    def load(self):
        base = "arn:aws:iam::aws:policy/service-role/"
        return {name: base + name for name in ("AWSLambdaBasicExecutionRole", "AWSLambdaVPCAccessExecutionRole")}


output = transform(copy.deepcopy(template), {"EmailFrom": "no-reply@example.com"}, ManagedPolicies())
resources = output["Resources"]


def references(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                found.update(m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
                references(value, found)
            else:
                references(value, found)
    elif isinstance(node, list):
        for item in node:
            references(item, found)


edges = {}
for name, resource in resources.items():
    found = set()
    references(resource.get("Properties", {}), found)
    depends_on = resource.get("DependsOn", [])
    found.update([depends_on] if isinstance(depends_on, str) else depends_on)
    edges[name] = sorted(n for n in found if n in resources)

state = {}


def visit(name, path):
    state[name] = "open"
    for target in edges[name]:
        if state.get(target) == "open":
            cycle = path[path.index(target):] + [target]
            sys.exit("error: circular dependency after the SAM transform: " + " -> ".join(cycle))
        if target not in state:
            visit(target, path + [target])
    state[name] = "done"


sys.setrecursionlimit(10000)
for name in resources:
    if name not in state:
        visit(name, [name])
print(f"{len(resources)} resources after the transform, no cycle")
PY

echo "==> checkov $(.local/venv-checkov/bin/checkov --version) template.yaml"
# --skip-download: no guideline or policy download (the checks ship with the package); fails on
# any failed check, and lists the skipped ones with their reasons.
"${offline[@]}" .local/venv-checkov/bin/checkov --file template.yaml --framework cloudformation \
    --skip-download --compact --quiet --output cli

if [ "${SAM_BUILD:-0}" = 1 ]; then
    arch=${SAM_BUILD_ARCH:-arm64}
    template=template.yaml
    build_args=()
    case "$arch" in
        arm64)
            if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
                echo "error: the aarch64 Rust target is missing; add it with: rustup target add aarch64-unknown-linux-gnu" >&2
                echo "       (or SAM_BUILD_ARCH=x86_64 to check the build pipeline only)" >&2
                exit 1
            fi
            ;;
        x86_64)
            mkdir -p .local/sam-x86_64
            template=.local/sam-x86_64/template.yaml
            sed 's/^    Architectures: \[arm64\]$/    Architectures: [x86_64]/' template.yaml >"$template"
            grep -q '^    Architectures: \[x86_64\]$' "$template" || {
                echo "error: Globals.Function.Architectures not found in template.yaml" >&2
                exit 1
            }
            # CodeUri ./ stays the workspace root; the output stays out of .aws-sam/ (deployable).
            build_args=(--base-dir . --build-dir .local/sam-x86_64/build --cache-dir .local/sam-x86_64/cache)
            ;;
        *)
            echo "error: SAM_BUILD_ARCH must be arm64 or x86_64" >&2
            exit 1
            ;;
    esac
    # cargo lambda finds zig (cargo-lambda's ziglang dependency) as `python3 -m ziglang`, through
    # .local/venv's python3, which local/bootstrap.sh put first on PATH; sam stays off PATH.
    echo "==> sam build ${SAM_BUILD_FUNCTION:-(every function)} for $arch"
    started=$SECONDS
    "$venv/bin/sam" build ${SAM_BUILD_FUNCTION:+"$SAM_BUILD_FUNCTION"} --template-file "$template" "${build_args[@]}"
    echo "==> sam build took $((SECONDS - started)) s"
fi

echo "==> template checks passed"
