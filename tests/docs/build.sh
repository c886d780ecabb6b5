#!/usr/bin/env bash
# Build the documentation site from the notebooks (nbdev_docs, which renders with Quarto) and fail on a broken build.
#
# usage: bash tests/docs/build.sh [OUTDIR]     (default .ci_out/docs; run with the dev environment active)
# exit: 0  the site was rendered by Quarto and checked (OUTDIR/_docs holds it)
#       1  a check failed: a notebook's docs processing raised, a page or a show_doc is missing, Quarto failed,
#          or README.md is not what nbs/index.ipynb says
#       3  Quarto could not be installed, so the site was NOT rendered (a line "DOCS SITE NOT RENDERED: ..." says why);
#          everything nbdev does before Quarto passed. This is NOT a pass of the site build.
# Steps, all in a scratch copy of the repository (the working tree is never written):
#  1. Quarto: `quarto` on PATH, else `pip install quarto-cli` into a throwaway venv (its sdist downloads the binary from
#     the Quarto releases at build time, so it fails on machines that reach only the package registries).
#  2. nbdev's own pipeline before Quarto, exactly as `nbdev_docs` runs it (nbdev.quarto._pre_docs less its Quarto
#     install): _quarto.yml and nbdev.yml from settings.ini, the symbol index, sidebar.yml, then `proc_nbs`, which runs
#     every notebook's exported cells and renders a `show_doc` (signature, docstring, parameter table) for every exported
#     name with execnb. Checked: every notebook gives a page, no cell output is an error, every public function and
#     class has a rendered show_doc with its signature and docstring, the sidebar lists every page, images exist.
#  3. With Quarto: `nbdev_docs` itself, then every page exists as HTML in _docs and Quarto printed no error or warning.
#  4. README.md is `jupyter nbconvert --to markdown nbs/index.ipynb --output-dir . --output README`'s output, and
#     every picture it shows exists.
# env: PYTHON (default: the active venv's python, else python3), DOCS_WORKERS (processes for proc_nbs, default 2).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=${1:-$REPO/.ci_out/docs}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
if [ -z "${PYTHON:-}" ]; then
  if [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then PYTHON=$VIRTUAL_ENV/bin/python; else PYTHON=python3; fi
fi
PYBIN=$(dirname "$PYTHON")
export MPLBACKEND=Agg PIP_DISABLE_PIP_VERSION_CHECK=1
T0=$(date +%s)
say() { echo "[docs $(( $(date +%s) - T0 ))s] $*"; }
fail() { echo "docs build: FAILED: $*"; exit 1; }
WORK=$(mktemp -d /tmp/fc-docs.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
trap 'exit 1' INT TERM

"$PYTHON" -c "import nbdev, execnb, fastcore" 2>/dev/null || fail "$PYTHON lacks nbdev/execnb (the dev dependencies): activate the dev venv"
SRC=$WORK/src; mkdir -p "$SRC"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} "$SRC/" 2>/dev/null)
[ -f "$SRC/settings.ini" ] || fail "could not copy the repository to $SRC"

# ---- 1. Quarto ------------------------------------------------------------------------------------------------
QUARTO=$(command -v quarto || true); why=""
if [ -z "$QUARTO" ]; then
  say "no quarto on PATH: trying pip install quarto-cli (throwaway venv; log $OUT/quarto_install.log)"
  if python3 -m venv "$WORK/quarto" > "$OUT/quarto_install.log" 2>&1 \
     && timeout 240 "$WORK/quarto/bin/pip" install --no-deps quarto-cli >> "$OUT/quarto_install.log" 2>&1 \
     && [ -x "$WORK/quarto/bin/quarto" ] && "$WORK/quarto/bin/quarto" --version >> "$OUT/quarto_install.log" 2>&1; then
    QUARTO=$WORK/quarto/bin/quarto
  else
    url=$(grep -o "https://github.com/quarto-dev/[^ \"']*" "$OUT/quarto_install.log" | head -1)
    why="pip install quarto-cli failed: PyPI has only an sdist of quarto-cli, whose build downloads the Quarto binary"
    why+=" from the Quarto releases on GitHub${url:+ ($url)}, which this machine cannot reach; Debian has no quarto package"
    why+=" and the npm registry none with the binary. Last lines of $OUT/quarto_install.log:"
    why+=$'\n'"$(grep -v 'is ignored' "$OUT/quarto_install.log" | grep -v '^\s*$' | tail -3)"
  fi
fi
[ -n "$QUARTO" ] && say "quarto: $QUARTO ($("$QUARTO" --version 2>/dev/null))"

# ---- 2. nbdev's pipeline before Quarto, then the checks ----------------------------------------------------------
bad=0
say "nbdev: _quarto.yml, symbol index, sidebar, proc_nbs (every notebook's exports run, every show_doc rendered)"
# (from a file, not stdin: proc_nbs starts its workers with 'spawn', which re-reads the main script)
cat > "$WORK/fc_docs_proc.py" <<'EOF'
# nbdev.serve.proc_nbs, except that a notebook that fails is reported and the others still run (nbdev stops at the first)
import os, sys, time, traceback, nbdev.doclinks
from pathlib import Path
from fastcore.parallel import parallel
from nbdev.config import get_config
from nbdev.doclinks import nbglob
from nbdev.quarto import refresh_quarto_yml, nbdev_sidebar
from nbdev.serve import _proc_file
import nbdev.serve_drv

def run_one(o):
    "Process one file as nbdev_docs does; None when it worked, else what went wrong."
    t = time.time()
    try: nbdev.serve_drv.main(o)
    except Exception as e:
        cause = e.__cause__ or e.__context__
        return f"{o[0].name}: {str(e).splitlines()[0]}\n    {type(cause).__name__ if cause else ''}: {str(cause)[:300] if cause else ''}"
    print(f"processed {o[0].name} in {time.time() - t:.1f}s", flush=True)

if __name__ == '__main__':                      # what nbdev.quarto._pre_docs does, without _ensure_quarto
    cfg = get_config()
    refresh_quarto_yml()
    nbdev.doclinks._build_modidx()
    nbdev_sidebar.__wrapped__(path=cfg.nbs_path)
    cache, path = cfg.config_path/'_proc', cfg.nbs_path
    cache.mkdir(parents=True, exist_ok=True)
    files = nbglob(path, func=Path, file_glob='', file_re='')
    files.append(path/'_quarto.yml')
    files = [f for f in (_proc_file(f, cache=cache, path=path) for f in files) if f]
    import fc_docs_proc   # by module name, not __main__: a notebook's IPython shell replaces __main__ in the worker
    errors = [e for e in parallel(fc_docs_proc.run_one, files, n_workers=int(sys.argv[1]), pause=0.01, method='spawn') if e]
    for e in errors: print('DOCS NOTEBOOK FAILED', e)
    print(f'proc_nbs: {len(files) - len(errors)} of {len(files)} notebooks processed, {len(errors)} failed')
    sys.exit(1 if errors else 0)
EOF
(cd "$SRC" && PYTHONPATH="$SRC" timeout 900 "$PYTHON" "$WORK/fc_docs_proc.py" "${DOCS_WORKERS:-2}" > "$OUT/proc_nbs.log" 2>&1) \
  || { grep -A1 "^DOCS NOTEBOOK FAILED\|^proc_nbs:" "$OUT/proc_nbs.log" || tail -30 "$OUT/proc_nbs.log"
       echo "docs build: nbdev's docs processing raised in the notebooks above (log $OUT/proc_nbs.log). nbdev runs every"
       echo "  exported cell and every cell that imports anything (exported or not): put a test cell's imports in a cell of their own (nbdev FAQ)"
       bad=1; }
(cd "$SRC" && PYTHONPATH="$SRC" "$PYTHON" - <<'EOF') || { echo "docs build: the processed docs are incomplete (above)"; bad=1; }
import ast, json, re, sys, importlib, inspect, yaml
from pathlib import Path
sys.path.insert(0, 'tests/docs')
from check_api_docs import own_doc, SKIP_MODULES
nbs, proc = Path('nbs'), Path('_proc')
problems, pages, shown = [], [], {}
for nb in sorted(nbs.rglob('*.ipynb')):
    rel = nb.relative_to(nbs)
    if any(p.startswith(('.', '_')) for p in rel.parts): continue
    pages.append(rel)
    out = proc / rel
    if not out.exists(): problems.append(f'{rel}: no processed page'); continue
    for cell in json.loads(out.read_text())['cells']:
        for o in cell.get('outputs', []):
            if o.get('output_type') == 'error': problems.append(f"{rel}: a docs cell raised {o.get('ename')}: {o.get('evalue')}")
        src = ''.join(cell.get('source', ''))
        m = re.search(r'^show_doc\(([\w.]+)', src, re.M)     # nbdev adds these, after '#| echo: false' directives
        if m and cell['cell_type'] == 'code':
            md = ''.join(''.join(o.get('data', {}).get('text/markdown', '')) for o in cell.get('outputs', []))
            shown.setdefault(m.group(1), []).append((rel, md))   # a name two modules export has a page each
# every public function and class of the package has a rendered show_doc with its signature and docstring
n = 0
for py in sorted(Path('fastcourse').rglob('*.py')):
    mod_name = '.'.join(py.with_suffix('').parts)
    if mod_name.endswith('__init__') or mod_name in SKIP_MODULES or py.name.startswith('_'): continue
    mod = importlib.import_module(mod_name)
    for name in getattr(mod, '__all__', []):
        obj = getattr(mod, name, None)
        if name.startswith('_') or not (inspect.isfunction(obj) or inspect.isclass(obj)) or obj.__module__ != mod_name: continue
        if obj.__name__ != name: continue   # an alias (cnn_learner = vision_learner) is documented under its target
        n += 1
        if name not in shown: problems.append(f'{mod_name}.{name}: no show_doc cell rendered on any page'); continue
        plain = lambda t: ' '.join(re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', t).replace('`', '').replace('*', '').split())
        doc = plain(own_doc(obj))[:40]   # show_doc links names in backticks: compare the words
        ok = [rel for rel, md in shown[name] if (f'### {name}' in md or f'## {name}' in md) and (not doc or doc in plain(md))]
        if not ok:
            rel, md = shown[name][-1]
            if f'### {name}' not in md and f'## {name}' not in md: problems.append(f'{rel}: show_doc({name}) rendered no heading: {md[:120]!r}')
            else: problems.append(f'{mod_name}.{name}: no page renders its docstring {doc!r} (last seen: {rel})')
# the site's configuration nbdev generated, and the sidebar lists every page
qy = yaml.safe_load(Path('nbs/_quarto.yml').read_text()); side = Path('nbs/sidebar.yml').read_text()
for rel in pages:
    if rel.as_posix() not in side: problems.append(f'sidebar.yml does not list {rel}')
# pictures shown by markdown cells exist (paths relative to the notebook) or are attachments of the cell
for rel in pages:
    for cell in json.loads((nbs / rel).read_text())['cells']:
        if cell['cell_type'] != 'markdown': continue
        for target in re.findall(r'!\[[^\]]*\]\(([^)\s]+)', ''.join(cell['source'])):
            if target.startswith('attachment:'):
                if target[len('attachment:'):] not in cell.get('attachments', {}): problems.append(f'{rel}: missing attachment {target}')
            elif not target.startswith(('http://', 'https://')) and not ((nbs / rel).parent / target).exists():
                problems.append(f'{rel}: picture {target} does not exist')
for p in problems: print('DOCS PROBLEM', p)
print(f'docs pages: {len(pages)} notebooks processed; {n} public functions and classes, {len(problems)} problems')
sys.exit(1 if problems else 0)
EOF

[ $bad = 0 ] || fail "nbdev's processing of the notebooks failed (above): the site cannot be built"

# ---- 3. Quarto renders the site ----------------------------------------------------------------------------------
rendered=0
if [ -n "$QUARTO" ]; then
  say "nbdev_docs (Quarto render; log $OUT/quarto.log)"
  (cd "$SRC" && PATH="$(dirname "$QUARTO"):$PATH" PYTHONPATH="$SRC" timeout 900 "$PYBIN/nbdev_docs" --n_workers "${DOCS_WORKERS:-2}" > "$OUT/quarto.log" 2>&1) \
    || { tail -40 "$OUT/quarto.log"; fail "nbdev_docs failed (log $OUT/quarto.log)"; }
  grep -i "^\s*\(error\|warn\)" "$OUT/quarto.log" && fail "Quarto reported errors or warnings (above)"
  (cd "$SRC" && "$PYTHON" - <<'EOF') || fail "pages are missing from the rendered site (above)"
from pathlib import Path
nbs, site = Path('nbs'), Path('_docs')
missing = [p for p in nbs.rglob('*.ipynb') if not any(q.startswith(('.', '_')) for q in p.relative_to(nbs).parts)
           and not (site / p.relative_to(nbs).with_suffix('.html')).exists()]
for p in missing: print('NOT RENDERED', p)
print(f"site: {len(list(site.rglob('*.html')))} HTML pages in _docs")
raise SystemExit(1 if missing else 0)
EOF
  rm -rf "$OUT/_docs"; cp -r "$SRC/_docs" "$OUT/_docs"; rendered=1
fi

# ---- 4. README.md is what nbs/index.ipynb says --------------------------------------------------------------------
say "README.md from nbs/index.ipynb (jupyter nbconvert --to markdown)"
(cd "$SRC" && mkdir -p "$WORK/readme" && timeout 120 "$PYBIN/jupyter" nbconvert --to markdown nbs/index.ipynb --output-dir "$WORK/readme" --output README > "$OUT/readme.log" 2>&1) \
  || { tail -5 "$OUT/readme.log"; fail "jupyter nbconvert could not convert nbs/index.ipynb"; }
diff -u "$SRC/README.md" "$WORK/readme/README.md" > "$OUT/readme.diff" \
  || { head -40 "$OUT/readme.diff"; fail "README.md is not what nbs/index.ipynb says: run 'jupyter nbconvert --to markdown nbs/index.ipynb --output-dir . --output README' and commit README.md and README_files/"; }
for pic in $(grep -o '!\[[^]]*\]([^)]*)' "$SRC/README.md" | sed 's/.*](\(.*\))/\1/'); do
  case "$pic" in http*) continue;; esac
  [ -f "$SRC/$pic" ] || fail "README.md shows $pic, which is not committed"
  cmp -s "$SRC/$pic" "$WORK/readme/$pic" || fail "$pic differs from the picture in nbs/index.ipynb: regenerate the README"
done

if [ $rendered = 1 ]; then say "docs site built and checked: $OUT/_docs"; exit 0; fi
echo "DOCS SITE NOT RENDERED: Quarto is not available. $why"
echo "Everything nbdev_docs does before calling Quarto passed (above); the HTML rendering itself was not tested. This is NOT a pass of the site build."
exit 3
