#!/usr/bin/env bash
# Install fastcourse the way a student does in Colab, and check it changes nothing Colab already has.
#
# usage: bash tests/install/colab_like.sh [OUTDIR]      (from anywhere; OUTDIR default .ci_out/install)
#  1. build the wheel and the sdist with `python -m build` (build and twine in a throwaway venv); `twine check` them
#  2. a fresh venv that looks like Colab: torch==$TORCH, torchvision==$TORCHVISION, ipywidgets==7.7.1, matplotlib, pillow
#  3. `pip install --dry-run --report` of the wheel: fail naming any of those packages it would install, upgrade or downgrade
#  4. install the wheel, `import fastcourse.all`, build FreezeToggles and LRPicker on a tiny learner under ipywidgets 7.7.1
#  5. figures: wheel and sdist size, installed size, import time of `fastcourse.all` against its dependencies' (one line:
#     "install: ..."); the ratio must stay within $IMPORT_RATIO_MAX (default 1.10, the issue's bound)
# exit: 0 passed; 1 a check failed; 3 SKIPPED: a registry step was impossible (a line "INSTALL TEST SKIPPED: ..." says
#       which). A skip is NOT a pass.
# env: PYTHON (default python3), TORCH/TORCHVISION (default 2.14.1/0.29.1: this machine's local build), IMPORT_REPEATS (5).
# Everything lives in a scratch folder removed on exit; pip's own cache is reused, so a second run downloads nothing.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${1:-$REPO/.ci_out/install}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
PYTHON=${PYTHON:-python3}
TORCH=${TORCH:-2.14.1}; TORCHVISION=${TORCHVISION:-0.29.1}
IMPORT_REPEATS=${IMPORT_REPEATS:-5}; IMPORT_RATIO_MAX=${IMPORT_RATIO_MAX:-1.10}
export PIP_DISABLE_PIP_VERSION_CHECK=1 MPLBACKEND=Agg
unset PYTHONPATH   # the installed wheel, not the repository, must be what imports
T0=$(date +%s)
say() { echo "[install-test $(( $(date +%s) - T0 ))s] $*"; }
skip() { echo "INSTALL TEST SKIPPED: $* -- this is NOT a pass"; exit 3; }
fail() { echo "install test: FAILED: $*"; exit 1; }
WORK=$(mktemp -d /tmp/fc-install.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
trap 'exit 1' INT TERM
# pip's closing lines, without the noise of this machine's extra local indexes
quiet() { grep -v "is ignored\|^\s*$" | tail -${1:-5}; }

# ---- 1. build and check ---------------------------------------------------------------------------------------
say "tools venv (build, twine)"
"$PYTHON" -m venv "$WORK/tools" || fail "could not create a venv with $PYTHON"
timeout 180 "$WORK/tools/bin/pip" install -q build twine > "$OUT/tools.log" 2>&1 \
  || { quiet < "$OUT/tools.log"; skip "pip could not install build and twine from the registry (see $OUT/tools.log)"; }
# build from a clean copy of what git tracks (plus new files not ignored), so no stray build/ or egg-info leaks in
SRC=$WORK/src; mkdir -p "$SRC"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} "$SRC/" 2>/dev/null)
[ -f "$SRC/setup.py" ] || fail "could not copy the repository's files to $SRC"
say "python -m build (sdist, then the wheel built from the sdist)"
if ! timeout 300 "$WORK/tools/bin/python" -m build --outdir "$WORK/dist" "$SRC" > "$OUT/build.log" 2>&1; then
  tail -15 "$OUT/build.log"
  if grep -qi "could not find a version\|no matching distribution\|connection\|timed out" "$OUT/build.log"; then
    skip "python -m build could not fetch its build requirements from the registry (see $OUT/build.log)"; fi
  fail "python -m build failed (see $OUT/build.log)"
fi
WHL=$(ls "$WORK"/dist/*.whl 2>/dev/null | head -1); SDIST=$(ls "$WORK"/dist/*.tar.gz 2>/dev/null | head -1)
[ -n "$WHL" ] && [ -n "$SDIST" ] || fail "python -m build made no wheel or no sdist: $(ls "$WORK/dist")"
cp "$WHL" "$SDIST" "$OUT/"
"$WORK/tools/bin/twine" check --strict "$WORK"/dist/* > "$OUT/twine.log" 2>&1 || { cat "$OUT/twine.log"; fail "twine check failed"; }
say "built $(basename "$WHL") ($(du -k "$WHL" | cut -f1) KiB) and $(basename "$SDIST") ($(du -k "$SDIST" | cut -f1) KiB); twine check --strict: PASSED"
# what the wheel ships: the package, its nbdev index, and the metadata pip reads (no notebooks, no tests)
"$WORK/tools/bin/python" - "$WHL" <<'EOF' || fail "the wheel's contents are wrong (above)"
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
bad = [n for n in names if not (n.startswith('fastcourse/') or '.dist-info/' in n)]
need = ['fastcourse/all.py', 'fastcourse/_modidx.py', 'fastcourse/widgets/freeze.py', 'fastcourse/vision/data.py']
missing = [n for n in need if n not in names]
meta = next(zipfile.ZipFile(sys.argv[1]).read(n).decode() for n in names if n.endswith('.dist-info/METADATA'))
reqs = [l for l in meta.splitlines() if l.startswith('Requires-Dist:')]
print(f"wheel: {len(names)} files; " + '; '.join(r[len('Requires-Dist: '):] for r in reqs))
if bad or missing: print('unexpected files:', bad[:10], 'missing:', missing); sys.exit(1)
EOF

# ---- 2. a Colab-like environment ------------------------------------------------------------------------------
COLAB_PKGS=("torch==$TORCH" "torchvision==$TORCHVISION" "ipywidgets==7.7.1" matplotlib pillow)
say "Colab-like venv: ${COLAB_PKGS[*]}"
"$PYTHON" -m venv "$WORK/colab" || fail "could not create the Colab-like venv"
PY=$WORK/colab/bin/python
if ! timeout 360 "$PY" -m pip install -q "${COLAB_PKGS[@]}" > "$OUT/colab_pip.log" 2>&1; then
  quiet < "$OUT/colab_pip.log"; skip "pip could not install the Colab packages (${COLAB_PKGS[*]}) from the registry (see $OUT/colab_pip.log)"
fi
"$PY" -m pip list --format=freeze > "$OUT/colab_before.txt" 2>/dev/null

# ---- 3. the dry run changes none of them ----------------------------------------------------------------------
say "pip install --dry-run --report"
if ! timeout 180 "$PY" -m pip install --dry-run --report "$OUT/report.json" "$WHL" > "$OUT/dry_run.log" 2>&1; then
  quiet < "$OUT/dry_run.log"
  grep -qi "could not find a version\|no matching distribution\|connection" "$OUT/dry_run.log" \
    && skip "pip could not resolve fastcourse's dependencies from the registry (see $OUT/dry_run.log)"
  fail "pip install --dry-run failed (see $OUT/dry_run.log)"
fi
"$PY" - "$OUT/report.json" "$OUT/colab_before.txt" <<'EOF' || fail "installing fastcourse would change Colab's packages (above)"
import json, sys, re
report = json.load(open(sys.argv[1]))
norm = lambda n: re.sub(r'[-_.]+', '-', n).lower()
before = dict(l.strip().split('==', 1) for l in open(sys.argv[2]) if '==' in l)
before = {norm(k): v for k, v in before.items()}
protected = ['torch', 'torchvision', 'ipywidgets', 'matplotlib', 'pillow']
changes, added = [], []
for item in report['install']:
    name, version = norm(item['metadata']['name']), item['metadata']['version']
    if name == 'fastcourse': continue
    if name in before: changes.append(f"{name} {before[name]} -> {version}")
    else: added.append(f"{name} {version}")
bad = [c for c in changes if c.split()[0] in protected]
print('dry run: would add', ', '.join(added) or 'nothing', '| would change', ', '.join(changes) or 'nothing already installed')
if bad: print('FAILED: installing fastcourse would change', ', '.join(bad)); sys.exit(1)
if changes: print('note: it would change packages Colab has besides the five checked:', ', '.join(changes))
EOF

# ---- 4. install, import, one widget under ipywidgets 7.7.1 ---------------------------------------------------
say "pip install the wheel"
timeout 180 "$PY" -m pip install -q "$WHL" > "$OUT/install.log" 2>&1 || { quiet < "$OUT/install.log"; fail "pip install of the wheel failed"; }
"$PY" -m pip list --format=freeze > "$OUT/colab_after.txt" 2>/dev/null
for p in torch torchvision ipywidgets matplotlib pillow; do   # belt and braces: the real install changed nothing either
  b=$(grep -i "^$p==" "$OUT/colab_before.txt"); a=$(grep -i "^$p==" "$OUT/colab_after.txt")
  [ "$b" = "$a" ] || fail "installing the wheel changed $p: '$b' -> '$a'"
done
say "import fastcourse.all and build widgets"
(cd "$WORK" && timeout 300 "$PY" - <<'EOF') || fail "fastcourse does not work in the Colab-like venv (above)"
import fastcourse, ipywidgets, torch
assert '/site-packages/' in fastcourse.__file__, f"imported {fastcourse.__file__}, not the installed wheel"
assert ipywidgets.__version__ == '7.7.1', ipywidgets.__version__
from fastcourse.all import *
from torch import nn
set_seed(0)
x = torch.randn(256, 4); y = (x.sum(1) > 0).long()
dls = DataLoaders.from_tensors(x[:192], y[:192], x[192:], y[192:], bs=32)
model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
learn = Learner(dls, model, nn.CrossEntropyLoss(), splitter=lambda m: [m[:2], m[2:4], m[4:]], progress=False)
toggles = FreezeToggles(learn)
toggles.freeze_to(2)
assert [g['trainable'] for g in learn.group_stats()] == [0, 0, 18], learn.group_stats()
assert isinstance(toggles.widget, ipywidgets.VBox) and toggles.widget.get_state()['_view_module_version'].startswith('1.')
learn.lr_find(num_it=20, show_plot=False)
picker = LRPicker(learn)
picker.set_lr(1e-3)
assert picker.lr == learn.lr == 1e-3, (picker.lr, learn.lr)
print(f"widgets: FreezeToggles and LRPicker built with ipywidgets {ipywidgets.__version__}, torch {torch.__version__}")
EOF

# ---- 5. figures ----------------------------------------------------------------------------------------------
say "installed size and import times ($IMPORT_REPEATS repeats each, interleaved, fresh interpreters)"
(cd "$WORK" && "$PY" - "$WHL" "$SDIST" "$IMPORT_REPEATS" "$IMPORT_RATIO_MAX" <<'EOF') || fail "import time or size check failed (above)"
import importlib.metadata as md, os, statistics, subprocess, sys
whl, sdist, repeats, ratio_max = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
dist = md.distribution('fastcourse')
installed = sum(os.path.getsize(dist.locate_file(f)) for f in dist.files if os.path.exists(dist.locate_file(f)))
deps = 'import torch, torchvision, matplotlib, matplotlib.pyplot, PIL.Image, ipywidgets, tqdm, cloudpickle'
ours = 'import fastcourse.all'
def timed(stmt):
    code = f"import time; t = time.perf_counter(); {stmt}; print(time.perf_counter() - t)"
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, 'MPLBACKEND': 'Agg'})
    if r.returncode: sys.exit(f"`{stmt}` failed in a fresh interpreter:\n{r.stderr[-2000:]}")
    return float(r.stdout.split()[-1])
timed(deps); timed(ours)   # warm the file cache once: both sides then read from memory
t_deps, t_ours = [], []
for _ in range(repeats): t_deps.append(timed(deps)); t_ours.append(timed(ours))
best, med = min(t_ours) / min(t_deps), statistics.median(t_ours) / statistics.median(t_deps)
print(f"install: wheel {os.path.getsize(whl)/1024:.0f} KiB, sdist {os.path.getsize(sdist)/1024:.0f} KiB, "
      f"installed {installed/1024:.0f} KiB ({len(dist.files)} files); import fastcourse.all {min(t_ours):.2f}s "
      f"vs its dependencies {min(t_deps):.2f}s (best of {repeats}): {best:.2f}x (medians {statistics.median(t_ours):.2f}s / "
      f"{statistics.median(t_deps):.2f}s = {med:.2f}x; limit {ratio_max:.2f}x)")
if best > ratio_max:
    sys.exit(f"import fastcourse.all takes {best:.2f}x its dependencies' import time (best of {repeats}), over the "
             f"{ratio_max:.2f}x limit: run `python -X importtime -c 'import fastcourse.all'` to see which module costs it")
EOF
say "passed in $(( $(date +%s) - T0 )) s"
exit 0
