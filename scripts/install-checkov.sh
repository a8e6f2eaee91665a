#!/usr/bin/env bash
# Installs checkov, the static security scanner of infra/terraform/, into its own venv at
# .venv/tools/checkov (inside the git-ignored .venv/): its pins conflict with the project's,
# so it cannot share .venv. Idempotent: does nothing when that version is already installed.
#
#   scripts/install-checkov.sh            # from the repository root or anywhere else
#   PYTHON=python3.11 scripts/install-checkov.sh
set -euo pipefail

CHECKOV_VERSION="3.3.30"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOL_VENV="$ROOT/.venv/tools/checkov"
PYTHON="${PYTHON:-python3}"
# This machine's pip configuration may name local package indexes that do not exist: hide those warnings.
quiet_pip() { sed -u '/is ignored: it is neither a file nor a directory/d'; }

installed_version() {
    "$TOOL_VENV/bin/python" - <<'PY' 2>/dev/null
from importlib.metadata import version
print(version("checkov"))
PY
}

if [[ -x "$TOOL_VENV/bin/checkov" && "$(installed_version)" == "$CHECKOV_VERSION" ]]; then
    echo "checkov $CHECKOV_VERSION is already installed in ${TOOL_VENV#"$ROOT"/}"
    exit 0
fi

echo "installing checkov $CHECKOV_VERSION into ${TOOL_VENV#"$ROOT"/}..."
rm -rf "$TOOL_VENV"
mkdir -p "$(dirname "$TOOL_VENV")"
"$PYTHON" -m venv "$TOOL_VENV"
"$TOOL_VENV/bin/python" -m pip install --disable-pip-version-check --quiet "checkov==$CHECKOV_VERSION" 2>&1 | quiet_pip
"$TOOL_VENV/bin/checkov" --version
