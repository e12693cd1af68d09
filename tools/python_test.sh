#!/usr/bin/env bash
# The Python module's tests (pipeline/python/tests, pytest), as a user installs it: a fresh venv
# with maturin, numpy and pytest from PyPI (no torch), the wheel built by maturin in release mode
# in the workspace's target/ (sharing the `marlin` release build), installed, then pytest. The
# tests read ../shared/oracle and fail when it is missing. Extra arguments go to pytest.
# Run by .ci/run after the Rust tests; part of the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
venv=target/python-test-venv
wheels=target/python-wheels
rm -rf "$venv" "$wheels"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check 'maturin>=1.8,<2' 'numpy>=1.21' pytest
CARGO_TARGET_DIR="$PWD/target" "$venv/bin/maturin" build --quiet --release --locked \
    -m pipeline/python/Cargo.toml -o "$wheels"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "$wheels"/marlin_rs-*.whl
if "$venv/bin/python" -c "import torch" 2>/dev/null; then
    echo "error: torch is importable in the test venv; the module must work without it" >&2
    exit 1
fi
cd pipeline/python/tests
exec "../../../$venv/bin/python" -m pytest -q "$@"
