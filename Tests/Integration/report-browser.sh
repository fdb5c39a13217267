#!/usr/bin/env bash
# Issue 7 browser test: headless Chromium (Debian's chromium, installed here when missing) renders
# the report of a small sweep to a PNG. The page must load without console errors and the PNG
# must not be blank. The screenshot is kept in .build/test-artifacts/report.png.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${RNN_EXP_BIN:-$ROOT/.build/debug/rnn-exp}
ART="$ROOT/.build/test-artifacts"
skip() { echo "SKIP report browser test: $*"; exit 0; }
[ -x "$BIN" ] || { echo "report test: $BIN not built"; exit 1; }
if ! command -v chromium >/dev/null; then
  [ "$(id -u)" = 0 ] || skip "chromium is missing; as root: apt-get install -y chromium"
  echo "installing chromium (apt-get)..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || skip "apt-get could not install chromium"
fi
WORK=$(mktemp -d /tmp/rnn-exp-report.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
cat > grid.yaml <<'YAML'
name: grid
description: A small tau_max × tau_b grid for the browser test, with skipped points.
dataset: {kind: binary-addition, bits: 4, train: 60, validation: 20}
model: {layers: [{type: rnn, units: 6}, {type: dense, activation: sigmoid}]}
training: {epochs: 4, batch: 10, optimizer: {name: adam, lr: 0.02}}
sweep:
  training.tau_max: [1, 2, 5]
  training.tau_b: [1, 2]
  training.seed: [1, 2]
YAML
"$BIN" run grid.yaml --results results --quiet --jobs 2 >/dev/null 2>&1 || true
[ -f results/grid/report.html ] || { echo "report test: rnn-exp run wrote no report.html"; exit 1; }
mkdir -p "$ART"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --enable-logging=stderr --v=0 \
  --window-size=1240,1800 --screenshot="$ART/report.png" "file://$WORK/results/grid/report.html" \
  > "$WORK/chromium.log" 2>&1 || { cat "$WORK/chromium.log"; echo "report test: chromium failed"; exit 1; }
if grep -E 'CONSOLE|Uncaught|SyntaxError|ReferenceError' "$WORK/chromium.log"; then
  echo "report test: the page logged console errors"; exit 1
fi
python3 - "$ART/report.png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
        assert depth == 8 and ctype in (2, 6), (depth, ctype)
        bpp = 3 if ctype == 2 else 4
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
raw, stride = zlib.decompress(idat), w * bpp
rows, prev, i = [], bytearray(stride), 0
for _ in range(h):
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b, c = prev[x], (prev[x - bpp] if x >= bpp else 0)
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line)); prev = line
pixels = [r[x:x + 3] for r in rows[::4] for x in range(0, stride, bpp * 4)]
colors = len(set(pixels))
ink = sum(1 for p in pixels if p != b"\xff\xff\xff") / len(pixels)
print(f"report screenshot {w}x{h}: {colors} distinct colours, {100 * ink:.1f}% non-white")
assert colors > 30 and ink > 0.03, "the screenshot looks blank"
PY
grep -q '<svg' results/grid/report.html && grep -q 'skipped' results/grid/report.html
echo "report screenshot kept in $ART/report.png"
echo "report: 3 passed, 0 failed"
