#!/usr/bin/env bash
# Real-browser test of fastcourse's widgets: Debian's Chromium driven by Playwright through JupyterLab.
#
# usage: tests/browser/run.sh [OUTDIR] [NOTEBOOK]
#   OUTDIR    where screenshots, kernel-state JSON and logs go (default .ci_out/browser)
#   NOTEBOOK  the notebook to drive (default tests/browser/widgets_demo.ipynb)
# exit codes: 0 passed; 1 failed (a check failed, or JupyterLab/the driver did not work);
#             3 skipped: Chromium is missing and could not be installed (a line "BROWSER TEST SKIPPED: <reason>" says why).
# env: PYTHON (default: the active venv's python, else the repo's .venv/bin/python, else python3), CHROMIUM (default /usr/bin/chromium),
#      BROWSER_TEST_TIMEOUT (seconds for the driver, default 200).
# Installs Chromium with apt-get when it is missing and we are root (Playwright never downloads a browser here).
# JupyterLab runs isolated (own config/runtime/settings dirs, 127.0.0.1, free port, token) on a scratch copy of the
# notebook, so the repo's notebook is never modified; it and only its kernels are stopped by PID on exit.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${1:-.ci_out/browser}
NB=${2:-$HERE/widgets_demo.ipynb}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
NB=$(cd "$(dirname "$NB")" && pwd)/$(basename "$NB")
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ -z "${PYTHON:-}" ]; then   # the active virtual environment (CI's), else the repo's .venv, else python3
  if [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then PYTHON=$VIRTUAL_ENV/bin/python
  elif [ -x "$REPO/.venv/bin/python" ]; then PYTHON=$REPO/.venv/bin/python; else PYTHON=python3; fi
fi
T0=$(date +%s)
say() { echo "[browser-test $(( $(date +%s) - T0 ))s] $*"; }
skip() { echo "BROWSER TEST SKIPPED: $*"; exit 3; }
fail() { echo "browser test: FAILED: $*"; exit 1; }

[ -f "$NB" ] || fail "no notebook at $NB"
rm -f "$OUT"/*.png "$OUT"/*.json "$OUT"/*.log

# ---- Chromium -----------------------------------------------------------------------------------------------
if [ ! -x "$CHROMIUM" ]; then
  [ "$(id -u)" = 0 ] || skip "$CHROMIUM is missing and we are not root, so apt-get cannot install it (apt-get install chromium fonts-liberation)"
  command -v apt-get >/dev/null || skip "$CHROMIUM is missing and there is no apt-get to install it"
  say "installing Debian's chromium (apt-get; log in $OUT/apt.log)"
  if ! { timeout 240 apt-get update && DEBIAN_FRONTEND=noninteractive timeout 240 apt-get install -y --no-install-recommends chromium fonts-liberation; } \
       > "$OUT/apt.log" 2>&1; then
    tail -5 "$OUT/apt.log"
    skip "apt-get could not install chromium (see $OUT/apt.log)"
  fi
  [ -x "$CHROMIUM" ] || skip "apt-get ran but $CHROMIUM is still missing"
fi
# /usr/bin/chromium is a shell wrapper that prints a harmless '[: ...: unexpected operator'; keep only the version
CHROME_VERSION=$(timeout 30 "$CHROMIUM" --no-sandbox --version 2>/dev/null | grep -i chromium | head -1)
[ -n "$CHROME_VERSION" ] || skip "$CHROMIUM does not run ('$CHROMIUM --version' failed)"
say "browser: $CHROME_VERSION"

# ---- Python side --------------------------------------------------------------------------------------------
"$PYTHON" -c "import playwright, jupyterlab, ipywidgets, jupyterlab_widgets, PIL" 2>"$OUT/import.log" \
  || fail "$PYTHON lacks a dev dependency (playwright, jupyterlab, ipywidgets, jupyterlab_widgets, pillow): $(tail -1 "$OUT/import.log")"

# ---- isolated JupyterLab --------------------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/fc-browser.XXXXXX)
STATE=$WORK/state; ROOT=$WORK/root
mkdir -p "$STATE"/{config,runtime,settings,workspaces,ipython} "$ROOT"
cp "$NB" "$ROOT/"
NB_NAME=$(basename "$NB")
JPID=""
DPID=""
cleanup() {
  local rc=$?
  if [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null; then   # interrupted while the driver runs: stop its group
    kill -TERM -- "-$DPID" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$DPID" 2>/dev/null
  fi
  if [ -n "$JPID" ] && kill -0 "$JPID" 2>/dev/null; then
    local kids; kids=$(pgrep -P "$JPID" || true)        # the kernels this server started, nothing else
    kill $kids "$JPID" 2>/dev/null
    for _ in $(seq 1 20); do kill -0 "$JPID" 2>/dev/null || break; sleep 0.25; done
    kill -9 $kids "$JPID" 2>/dev/null
  fi
  [ -f "$STATE/jupyter.log" ] && cp "$STATE/jupyter.log" "$OUT/jupyter.log"
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# the news toast ("get notified about official Jupyter news?") can cover widgets: turn it off
mkdir -p "$STATE/settings/@jupyterlab/apputils-extension"
echo '{"fetchNews": "false", "checkForUpdates": false, "doNotDisturbMode": true}' \
  > "$STATE/settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"
# keep every cell in the DOM (no windowing), so off-screen widgets keep their elements and can be found and watched
mkdir -p "$STATE/settings/@jupyterlab/notebook-extension"
echo '{"windowingMode": "none"}' > "$STATE/settings/@jupyterlab/notebook-extension/tracker.jupyterlab-settings"
TOKEN=$("$PYTHON" -c "import secrets; print(secrets.token_hex(16))")
PORT=$("$PYTHON" -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
EXTRA=(); [ "$(id -u)" = 0 ] && EXTRA+=(--allow-root)
# kernels inherit this environment: PYTHONPATH makes this repo's fastcourse importable whether or not it is
# pip-installed (and nothing else: e.g. not CI's ipywidgets 7.7.1 folder, which JupyterLab's ipywidgets 8 frontend
# cannot talk to); no FASTCOURSE_WIDGETS, which could force the widgets' static form; matplotlib off any display.
env -u FASTCOURSE_WIDGETS JUPYTER_CONFIG_DIR="$STATE/config" JUPYTER_RUNTIME_DIR="$STATE/runtime" JUPYTER_DATA_DIR="$STATE/data" \
    IPYTHONDIR="$STATE/ipython" JUPYTER_PLATFORM_DIRS=1 MPLBACKEND=Agg \
    PYTHONPATH="$REPO" \
  "$PYTHON" -m jupyterlab --no-browser --ip=127.0.0.1 --port="$PORT" --ServerApp.port_retries=0 \
    --IdentityProvider.token="$TOKEN" --ServerApp.root_dir="$ROOT" \
    --LabApp.expose_app_in_browser=True --LabApp.news_url=None \
    --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
    --LabApp.user_settings_dir="$STATE/settings" --LabApp.workspaces_dir="$STATE/workspaces" \
    "${EXTRA[@]}" > "$STATE/jupyter.log" 2>&1 < /dev/null &
JPID=$!
up=0
for _ in $(seq 1 120); do
  if "$PYTHON" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=2)" \
       "http://127.0.0.1:$PORT/api/status?token=$TOKEN" 2>/dev/null; then up=1; break; fi
  kill -0 "$JPID" 2>/dev/null || { tail -20 "$STATE/jupyter.log"; fail "JupyterLab died at start"; }
  sleep 0.5
done
[ $up = 1 ] || { tail -20 "$STATE/jupyter.log"; fail "JupyterLab did not answer on 127.0.0.1:$PORT within 60 s"; }
say "JupyterLab up on 127.0.0.1:$PORT (pid $JPID)"

# ---- the driver -------------------------------------------------------------------------------------------------
# timeout runs the driver in a process group of its own and signals all of it (Playwright's node process, which
# closes Chromium); run in the background so a signal to this script is handled at once (the trap stops it too)
timeout -k 10 "${BROWSER_TEST_TIMEOUT:-200}" "$PYTHON" "$HERE/drive.py" --port "$PORT" --token "$TOKEN" \
  --notebook "$NB_NAME" --out "$OUT" --chromium "$CHROMIUM" &
DPID=$!
wait "$DPID"; rc=$?
DPID=""
[ $rc = 124 ] && fail "the driver ran past ${BROWSER_TEST_TIMEOUT:-200} s"
[ $rc = 0 ] || fail "the driver reported failure (exit $rc); screenshots and logs in $OUT"
say "done in $(( $(date +%s) - T0 )) s; screenshots in $OUT"
exit 0
