#!/usr/bin/env bash
# Regenerates docs/screening-report.png (the README's picture of the screening report): the
# browser test's report of six videos, opened in headless Chromium at 1280 px, its top 2000 px.
set -euo pipefail
cd "$(dirname "$0")/.."
MARLIN_REPORT_SCREENSHOT="$PWD/docs/screening-report.png" \
    cargo test -p marlin-cli --test tests report::labelled_report_in_a_browser -- --exact
ls -l docs/screening-report.png
