"""Put the widget pictures of the README into nbs/index.ipynb, from the real-browser test's screenshots.

usage: bash tests/browser/run.sh /tmp/browser && python tests/docs/readme_pictures.py /tmp/browser
then:  jupyter nbconvert --to markdown nbs/index.ipynb --output-dir . --output README   (writes README_files/*.png)

Each picture is a screenshot of one widget in JupyterLab (Chromium), cropped to what the widget drew and reduced to a
128-colour palette so it stays small. It becomes an attachment of the markdown cell that shows it (`attachment:NAME`):
Quarto renders attachments in the docs site, and nbconvert writes them next to README.md for GitHub.
"""
import base64, io, json, sys
from pathlib import Path
from PIL import Image, ImageChops

PICTURES = {  # attachment name in nbs/index.ipynb: the browser test's screenshot it comes from
    'lr_picker.png': '13_lr_after_suggestion.png',
    'freeze_toggles.png': '22_freeze_to_2.png',
    'schedule_explorer.png': '31_schedule_sgdr.png',
    'training_dashboard.png': '40_dashboard_final.png',
}


def small_png(path: Path, colors: int = 128, margin: int = 6) -> bytes:
    "The screenshot cropped to its non-white content (plus `margin` pixels) in a `colors`-colour palette, as PNG bytes."
    im = Image.open(path).convert('RGB')
    box = ImageChops.difference(im, Image.new('RGB', im.size, 'white')).getbbox() or (0, 0, *im.size)
    box = (max(box[0] - margin, 0), max(box[1] - margin, 0), min(box[2] + margin, im.width), min(box[3] + margin, im.height))
    buf = io.BytesIO()
    im.crop(box).quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(buf, 'PNG', optimize=True)
    return buf.getvalue()


def attach(nb_path: Path, shots: Path) -> list[str]:
    "Replace each picture's attachment in the markdown cell that shows it; returns lines saying what was done."
    nb, done = json.loads(nb_path.read_text(encoding='utf-8')), []
    for name, shot in PICTURES.items():
        cells = [c for c in nb['cells'] if c['cell_type'] == 'markdown' and f'attachment:{name}' in ''.join(c['source'])]
        if not cells: sys.exit(f"no markdown cell of {nb_path} shows attachment:{name}: add ![...](attachment:{name}) first")
        if not (shots / shot).exists(): sys.exit(f"{shots / shot} is missing: run tests/browser/run.sh {shots} first")
        png = small_png(shots / shot)
        for c in cells: c.setdefault('attachments', {})[name] = {'image/png': base64.b64encode(png).decode()}
        done.append(f'{name}: {len(png) / 1024:.0f} KiB from {shot}')
    nb_path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + '\n', encoding='utf-8')
    return done


if __name__ == '__main__':
    if len(sys.argv) != 2: sys.exit(__doc__)
    for line in attach(Path(__file__).resolve().parents[2] / 'nbs' / 'index.ipynb', Path(sys.argv[1])): print(line)
