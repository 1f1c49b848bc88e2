#!/usr/bin/env bash
# Installs the stand-in AWS provider (tests/stand-in-aws: a test fixture,
# never shipped) into PULUMI_HOME as the resource plugin aws 7.48.0, from the
# tarball scripts/build-pulumi.sh (`make pulumi`) assembles:
#
#   scripts/install-stand-in.sh PULUMI_HOME
#
# Idempotent (a second run with the same tarball does nothing) and safe to run
# from many test processes at once (flock).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${PANKA_TOOLS_DIR:-$root/.tools}"
AWS_VERSION="${PULUMI_AWS_VERSION:-7.48.0}"
home="${1:?usage: scripts/install-stand-in.sh PULUMI_HOME}"
tarball="$tools/plugins/pulumi-resource-aws-v$AWS_VERSION.tar.gz"
pulumi="$tools/bin/pulumi"

die() { echo "install-stand-in: $*" >&2; exit 1; }
[ -x "$pulumi" ] || die "$pulumi is missing: run \`make pulumi\`"
[ -f "$tarball" ] || die "$tarball is missing: run \`make pulumi\`"

mkdir -p "$home/plugins"
home="$(cd "$home" && pwd)"
exec 9>"$home/.install-stand-in.lock"
flock 9

plugin_dir="$home/plugins/resource-aws-v$AWS_VERSION"
stamp="$home/plugins/.stand-in-aws-v$AWS_VERSION.sha256"
sum="$(sha256sum "$tarball" | cut -d' ' -f1)"
if [ -x "$plugin_dir/pulumi-resource-aws" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$sum" ]; then
  exit 0
fi

PULUMI_HOME="$home" PULUMI_SKIP_UPDATE_CHECK=true "$pulumi" plugin install resource aws "$AWS_VERSION" \
  --file "$tarball" --reinstall >&2

# Warm the schema cache of the YAML language host (pulumi-yaml 1.25's loader
# keeps a resource plugin's schema in $PULUMI_HOME/plugins/schema-<name>-<version>-.json,
# valid while it is newer than the plugin's directory), so that no run starts
# a second provider process just for GetSchema. Only an optimisation: with
# another naming the first run fills the cache itself.
cp "$plugin_dir/schema.json" "$home/plugins/schema-aws-$AWS_VERSION-.json.tmp"
mv "$home/plugins/schema-aws-$AWS_VERSION-.json.tmp" "$home/plugins/schema-aws-$AWS_VERSION-.json"

echo "$sum" > "$stamp"
