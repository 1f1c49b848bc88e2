#!/usr/bin/env bash
# Builds the real Pulumi CLI and the Pulumi YAML language host from their
# published Go modules at pinned versions, plus the stand-in AWS provider the
# tests use (tests/stand-in-aws, a test fixture), into .tools/bin/.
#
# Cached: a binary whose stamp file names the same version is not rebuilt, so
# a second run is a no-op. Nothing prebuilt is ever downloaded: only Go
# modules from the module proxy, compiled here.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tools="${PANKA_TOOLS_DIR:-$root/.tools}"
bin="$tools/bin"

PULUMI_VERSION="${PULUMI_VERSION:-v3.276.0}"
PULUMI_YAML_VERSION="${PULUMI_YAML_VERSION:-v1.25.0}"

die() { echo "make pulumi: $*" >&2; exit 1; }

command -v go >/dev/null 2>&1 || die "Go is not installed (needed to build pulumi $PULUMI_VERSION from its Go module). Install Go 1.24 or newer."
mkdir -p "$bin" "$tools/src"

# up_to_date NAME STAMP: the binary exists and was built from STAMP.
up_to_date() { [ -x "$bin/$1" ] && [ "$(cat "$bin/.$1.stamp" 2>/dev/null)" = "$2" ]; }

# module_build NAME DIR LDFLAGS PACKAGE REQUIRE...: builds PACKAGE from a
# scratch module that requires exactly the given module versions, so a
# module's own `replace` directives (pkg/v3 points sdk/v3 at ../sdk) do not apply.
module_build() {
  local name="$1" dir="$2" ldflags="$3" pkg="$4"; shift 4
  local stamp="$pkg $* $ldflags"
  if up_to_date "$name" "$stamp"; then
    echo "make pulumi: $name is up to date ($*)"
    return
  fi
  echo "make pulumi: building $name from $* (several minutes the first time)" >&2
  rm -rf "$dir"; mkdir -p "$dir"
  (
    cd "$dir"
    go mod init "panka.local/tools/$name" >/dev/null 2>&1
    local req
    for req in "$@"; do
      go mod edit -require="$req"
    done
    # Record the tool imports so `go mod tidy` keeps them.
    printf '//go:build tools\n\npackage tools\n\nimport _ "%s"\n' "$pkg" > tools.go
    go mod tidy >"$dir/tidy.log" 2>&1 || {
      cat "$dir/tidy.log" >&2
      die "could not resolve $* from the Go module proxy ($(go env GOPROXY)); is it reachable?"
    }
    CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$bin/$name.tmp" "$pkg"
  )
  mv "$bin/$name.tmp" "$bin/$name"
  echo "$stamp" > "$bin/.$name.stamp"
}

module_build pulumi "$tools/src/pulumi" \
  "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
  github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
  "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION"

module_build pulumi-language-yaml "$tools/src/pulumi-language-yaml" \
  "-s -w -X github.com/pulumi/pulumi-yaml/pkg/version.Version=$PULUMI_YAML_VERSION" \
  github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml \
  "github.com/pulumi/pulumi-yaml@$PULUMI_YAML_VERSION"

# ---------- the stand-in AWS provider (tests/stand-in-aws, a test fixture) ----------
#
# Built into .tools/stand-in-aws/ next to the Pulumi schema it serves (from
# the published npm package @pulumi/aws) and the ECS ContainerDefinition
# shape it validates against (from botocore's service model), then packed as
# the plugin tarball scripts/install-stand-in.sh installs into a PULUMI_HOME.
# Deliberately not in .tools/bin: a pulumi-resource-aws found on PATH is used
# as an "ambient" plugin, with a warning on every run and no schema cache.
# Cached on a hash of its sources; a second run is a no-op.
AWS_VERSION="${PULUMI_AWS_VERSION:-7.48.0}"
standin_src="$root/tests/stand-in-aws"
standin="$tools/stand-in-aws"
tarball="$tools/plugins/pulumi-resource-aws-v$AWS_VERSION.tar.gz"

# sources_hash PATTERN...: one hash of the files (globs expand under $root).
sources_hash() { (cd "$root" && cat $* | sha256sum | cut -d' ' -f1); }

build_stand_in() {
  local stamp schema_stamp venv
  stamp="aws $AWS_VERSION $(go env GOVERSION) $(sources_hash tests/stand-in-aws/*.go tests/stand-in-aws/go.mod \
    tests/stand-in-aws/go.sum tests/stand-in-aws/replace.json tests/stand-in-aws/extract-ecs-shape.py \
    scripts/pulumi-aws-schema.mjs)"
  mkdir -p "$standin" "$(dirname "$tarball")"
  exec 8>"$standin/.lock"
  flock 8
  if [ -f "$tarball" ] && [ "$(cat "$standin/.stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "make pulumi: the stand-in AWS provider is up to date ($tarball)"
    return
  fi
  echo "make pulumi: building the stand-in AWS provider $AWS_VERSION (tests/stand-in-aws)" >&2

  # The Pulumi package schema, read back from the npm package (the slow part:
  # regenerated only when the script that makes it changes).
  schema_stamp="$AWS_VERSION $(sources_hash scripts/pulumi-aws-schema.mjs)"
  if [ "$(cat "$standin/.schema.stamp" 2>/dev/null)" != "$schema_stamp" ]; then
    command -v node >/dev/null 2>&1 || die "node is not installed (needed to read the pulumi-aws schema from the npm package @pulumi/aws@$AWS_VERSION)"
    rm -f "$standin/schema.json"
    node "$root/scripts/pulumi-aws-schema.mjs" --version "$AWS_VERSION" --pulumi-schema "$standin/schema.json" \
      || die "could not build the Pulumi schema of pulumi-aws $AWS_VERSION from npm (is the npm registry reachable?)"
    echo "$schema_stamp" > "$standin/.schema.stamp"
  fi

  # The ECS ContainerDefinition shape, from botocore in the moto venv.
  bash "$root/scripts/moto-venv.sh"
  venv="${PANKA_TEST_VENV:-${PANKA_MOTO_VENV:-$root/.venv}}"
  "$venv/bin/python" "$standin_src/extract-ecs-shape.py" "$standin/ecs-container-definition.json.tmp"
  mv "$standin/ecs-container-definition.json.tmp" "$standin/ecs-container-definition.json"

  (cd "$standin_src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$standin/pulumi-resource-aws.tmp" .)
  mv "$standin/pulumi-resource-aws.tmp" "$standin/pulumi-resource-aws"

  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$standin" -cf - \
    pulumi-resource-aws schema.json ecs-container-definition.json | gzip -n > "$tarball.tmp"
  mv "$tarball.tmp" "$tarball"
  echo "$stamp" > "$standin/.stamp"
}

build_stand_in

"$bin/pulumi" version
