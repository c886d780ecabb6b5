"""Every public function and class of fastcourse has a signature, a docstring and an example.

usage: python tests/docs/check_api_docs.py [--root REPO]
Run from the repository root (or pass --root) with the repository's `fastcourse` importable.
Exit 0 when every name passes; 1 listing each offender as `notebook: name: what is missing`; 2 when a module fails to import.

- public: each name in a module's `__all__` (what nbdev exports) not starting with `_`, that is a function or a class
  defined in that module (re-exports are checked where they are defined). Constants are not checked.
- signature: `inspect.signature` works on it (that is what `show_doc` renders); a class that keeps a builtin's
  constructor (an exception, a str subclass) has none to render and passes.
- docstring: its own, non-empty `__doc__` (a class's docstring is not inherited; a dataclass's generated
  `Name(a, b)` does not count).
- example: a code cell of some notebook under nbs/ that is not an export cell and uses the name as a Python name
  (a call, an attribute, an argument; words in comments or strings do not count; `show_doc(name)` does not count).
"""
import argparse, importlib, inspect, io, json, re, sys, tokenize
from pathlib import Path

EXPORT_RE = re.compile(r'^\s*#\s*\|\s*(export|exporti|exports)\b', re.M)   # definition cells, not examples
SKIP_MODULES = {'fastcourse.all', 'fastcourse._modidx'}


def code_names(src: str) -> set[str]:
    "Python names used in a cell's source: magics and shell lines dropped, comments and strings ignored."
    src = '\n'.join('' if l.lstrip().startswith(('%', '!')) else l for l in src.splitlines())
    src = re.sub(r'\bshow_doc\([^)]*\)', '', src)
    names = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(src).readline):
            if tok.type == tokenize.NAME: names.add(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):   # a cell tokenize cannot finish: fall back to words
        names |= set(re.findall(r'[A-Za-z_]\w*', re.sub(r'#.*', '', src)))
    return names


def example_names(nbs: Path) -> set[str]:
    "Names used in the non-export code cells of every notebook under `nbs`."
    used = set()
    for nb in sorted(nbs.rglob('*.ipynb')):
        if any(p.startswith(('.', '_')) for p in nb.relative_to(nbs).parts): continue   # _proc, .ipynb_checkpoints
        for cell in json.loads(nb.read_text(encoding='utf-8'))['cells']:
            if cell['cell_type'] != 'code': continue
            src = ''.join(cell['source'])
            if EXPORT_RE.search(src): continue
            used |= code_names(src)
    return used


def source_notebook(path: Path) -> str:
    "The notebook a generated module says it comes from (its 'File to edit' line), else the module's path."
    m = re.search(r'File to edit: (\S+?\.ipynb)', path.read_text(encoding='utf-8')[:2000])
    return Path(m.group(1)).as_posix().replace('../', '') if m else path.as_posix()


def own_doc(obj) -> str:
    "The docstring `obj` has itself (classes don't inherit one here); '' when none or only a generated one."
    doc = vars(obj).get('__doc__') if inspect.isclass(obj) else obj.__doc__
    doc = (doc or '').strip()
    if inspect.isclass(obj) and doc.startswith(obj.__name__ + '('): return ''   # dataclass's generated docstring
    return doc


def check(root: Path) -> tuple[list[str], int, list[str]]:
    "Offender lines, the number of names checked, and import errors."
    sys.path.insert(0, str(root))
    used = example_names(root / 'nbs')
    offenders, errors, n = [], [], 0
    for py in sorted((root / 'fastcourse').rglob('*.py')):
        mod_name = '.'.join(py.relative_to(root).with_suffix('').parts)
        if mod_name.endswith('__init__') or mod_name in SKIP_MODULES or '/_' in '/' + py.name: continue
        try: mod = importlib.import_module(mod_name)
        except Exception as e:
            errors.append(f'{mod_name}: import failed: {type(e).__name__}: {e}'); continue
        nb = source_notebook(py)
        for name in getattr(mod, '__all__', []):
            obj = getattr(mod, name, None)
            if name.startswith('_') or not (inspect.isfunction(obj) or inspect.isclass(obj)): continue
            if getattr(obj, '__module__', None) != mod_name: continue
            if obj.__name__ != name: continue   # an alias (cnn_learner = vision_learner) is documented under its target
            n += 1
            missing = []
            try: inspect.signature(obj)
            except (TypeError, ValueError):   # a class built on str or Exception has the builtin's constructor: nothing to show
                if not (inspect.isclass(obj) and not any('__init__' in vars(k) or '__new__' in vars(k)
                                                         for k in obj.__mro__ if k.__module__ != 'builtins')):
                    missing.append('signature')
            if not own_doc(obj): missing.append('docstring')
            if name not in used: missing.append('example (no non-export notebook cell uses it)')
            if missing: offenders.append(f'{nb}: {mod_name}.{name}: missing {", ".join(missing)}')
    return offenders, n, errors


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--root', default='.', help='repository root')
    root = Path(ap.parse_args().root).resolve()
    offenders, n, errors = check(root)
    for e in errors: print('IMPORT ERROR', e)
    for o in offenders: print('OFFENDER', o)
    print(f'api docs: {n - len(offenders)} of {n} public functions and classes have a signature, a docstring and an example;'
          f' {len(offenders)} offenders, {len(errors)} modules failed to import')
    sys.exit(2 if errors else 1 if offenders else 0)
