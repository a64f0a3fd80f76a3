#!/usr/bin/env bash
# Renders a shiftkit HTML report (from `report --html`, `flow` or `build`) in
# headless Chromium and saves a PNG screenshot of the whole page, and its
# print view as a PDF, for a person to look at (not run in CI; needs
# `apt-get install chromium`).
#
# Usage: scripts/report-screenshot.sh REPORT.html [OUT.png] [WIDTH]
#   OUT.png defaults to REPORT.png beside the page (the PDF to REPORT.pdf);
#   WIDTH is the window width in pixels (default 1400).
set -euo pipefail
page=${1:?usage: scripts/report-screenshot.sh REPORT.html [OUT.png] [WIDTH]}
[ -f "$page" ] || { echo "no such file: $page" >&2; exit 1; }
png=${2:-${page%.html}.png}
pdf=${png%.png}.pdf
width=${3:-1400}
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "chromium not found: apt-get install chromium" >&2; exit 1; }
url="file://$(realpath "$page")"
# Headless Chromium shoots the window, so the window is as tall as the page:
# estimated from its parts (every plot 320 px high, as many side by side as
# the width holds; table rows, headings and paragraphs).
height=$(python3 - "$page" "$width" <<'PY'
import re, sys
text, width = open(sys.argv[1]).read(), int(sys.argv[2])
per_row = max(1, (width - 40) // 656)
h = 120
for group in re.findall(r'<div class="plots">(.*?)</div>', text, re.S):
    n = group.count('<svg class="plot')
    h += -(-n // per_row) * 336
h += text.count("<tr>") * 27 + text.count("<h2>") * 70 + text.count("<h3>") * 50
h += text.count("<p") * 45 + text.count("<li>") * 22
print(h)
PY
)
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1)
shoot() { # url, png: prints the milliseconds the browser took, start to exit
  local start; start=$(date +%s%N)
  "$browser" "${flags[@]}" --window-size="$width,$height" --screenshot="$2" "$1" 2>/dev/null
  echo $(( ($(date +%s%N) - start) / 1000000 ))
}
# The same browser on an empty page: what starting it costs, for comparison.
empty=$(mktemp --suffix=.html)
echo '<!DOCTYPE html><html><body></body></html>' > "$empty"
blank=$(shoot "file://$empty" "${empty%.html}.png")
took=$(shoot "$url" "$png")
rm -f "$empty" "${empty%.html}.png"
"$browser" "${flags[@]}" --no-pdf-header-footer --print-to-pdf="$pdf" "$url" 2>/dev/null
echo "$png ($width x $height), $pdf; headless Chromium took ${took} ms for the page, ${blank} ms for an empty one"
