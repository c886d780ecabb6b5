"""fastai v2 lesson idioms, written the way a fastai user writes them, for fastcourse or fastai.

Run `python tests/fastai_idioms.py fastcourse` (CI runs it) or, in a venv with fastai 2.8.12 installed,
`python tests/fastai_idioms.py fastai`: the only difference is the import line. Each idiom prints one JSON line with what
can be compared between the two (shapes, dtypes, column layout, vocab order, return types); `--compare a.jsonl b.jsonl`
diffs two runs. No pretrained weights and no download: the images are drawn here.
"""
import json, math, random, sys, tempfile
from pathlib import Path

def draw_images(root: Path, n_per_class: int = 48, size: int = 40) -> Path:
    "Two folders layouts at once: train/valid/<label>/ and pets-style file names `<Label>_<i>.png` (upper case = cat)."
    from PIL import Image, ImageDraw
    rnd = random.Random(0)
    for split in ('train', 'valid'):
        for label in ('circle', 'square'):
            d = root / split / label; d.mkdir(parents=True, exist_ok=True)
            for i in range(n_per_class if split == 'train' else n_per_class // 3):
                im = Image.new('RGB', (size, size), tuple(rnd.randrange(0, 60) for _ in range(3)))
                dr = ImageDraw.Draw(im); r = rnd.randrange(size // 5, size // 3); cx, cy = size // 2 + rnd.randrange(-4, 5), size // 2
                box = [cx - r, cy - r, cx + r, cy + r]
                (dr.ellipse if label == 'circle' else dr.rectangle)(box, fill=(230, 230, 230))
                name = (label.capitalize() if label == 'circle' else label) + f'_{i}.png'
                im.save(d / name)
    for i in range(30):                                  # numeric labels 0..14 in a folder of their own
        d = root / 'nums' / str(i % 15); d.mkdir(parents=True, exist_ok=True)
        Image.new('RGB', (size, size), (i * 8, 0, 0)).save(d / f'{i}.png')
    return root

def main(lib: str, out=sys.stdout):
    if lib == 'fastai': from fastai.vision.all import (ImageDataLoaders, DataBlock, ImageBlock, CategoryBlock, Resize,
        RandomResizedCrop, aug_transforms, Normalize, imagenet_stats, get_image_files, parent_label, RandomSplitter,
        GrandparentSplitter, RegexLabeller, using_attr, vision_learner, Learner, accuracy, error_rate, minimum, steep,
        valley, PILImage, load_learner, CrossEntropyLossFlat, Flip, Rotate, set_seed)
    else: from fastcourse.all import (ImageDataLoaders, DataBlock, ImageBlock, CategoryBlock, Resize,
        RandomResizedCrop, aug_transforms, Normalize, imagenet_stats, get_image_files, parent_label, RandomSplitter,
        GrandparentSplitter, RegexLabeller, using_attr, Learner, accuracy, error_rate, minimum, steep, valley, PILImage,
        load_learner, Flip, Rotate, set_seed)
    import torch
    from torch import nn
    res = {}
    def record(name, **facts):
        print(json.dumps({'idiom': name, **facts}, default=str), file=out, flush=True)
        res[name] = facts

    path = draw_images(Path(tempfile.mkdtemp()))
    set_seed(42)
    # fastbook ch.1: from_name_func with an upper-case label function, Resize as a single item_tfms
    def is_cat(x): return x[0].isupper()
    files = get_image_files(path / 'train')
    dls = ImageDataLoaders.from_name_func(path, files, valid_pct=0.2, seed=42, label_func=is_cat, item_tfms=Resize(32), bs=8)
    xb, yb = dls.one_batch()
    record('from_name_func', vocab=list(map(str, dls.vocab)), c=dls.c, bs=dls.bs, x_shape=list(xb.shape), x_dtype=str(xb.dtype),
           y_dtype=str(yb.dtype), n_train=len(dls.train_ds), n_valid=len(dls.valid_ds), n_loaders=len(dls.loaders))

    # lesson 1 (2022): from_folder, aug_transforms(size=, min_scale=), batch_tfms, a metric passed alone
    dls = ImageDataLoaders.from_folder(path, train='train', valid='valid', item_tfms=Resize(40),
                                       batch_tfms=aug_transforms(size=32, min_scale=0.75), bs=8)
    xb, yb = dls.one_batch()
    record('from_folder_aug', vocab=list(dls.vocab), x_shape=list(xb.shape), x_dtype=str(xb.dtype),
           x_mean_near_0=bool(abs(float(xb.mean())) < 1.5), valid_shape=list(dls.valid.one_batch()[0].shape))

    # from_name_re: the pattern is matched against the file NAME
    dls = ImageDataLoaders.from_name_re(path, files, pat=r'^([a-zA-Z]+)_\d+\.png$', item_tfms=Resize(32), bs=8, seed=1)
    record('from_name_re', vocab=list(dls.vocab))

    # DataBlock as in fastbook ch.2
    blk = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files, splitter=RandomSplitter(valid_pct=0.25, seed=42),
                    get_y=parent_label, item_tfms=Resize(32))
    dls = blk.dataloaders(path / 'train', bs=8)
    blk2 = blk.new(item_tfms=RandomResizedCrop(32, min_scale=0.5), batch_tfms=aug_transforms())
    dls2 = blk2.dataloaders(path / 'train', bs=8)
    record('datablock', vocab=list(dls.vocab), n_valid=len(dls.valid_ds), n_valid_new=len(dls2.valid_ds),
           shape_new=list(dls2.one_batch()[0].shape))
    blk = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files, splitter=GrandparentSplitter(),
                    get_y=using_attr(RegexLabeller(r'^([a-zA-Z]+)_'), 'name'), item_tfms=Resize(32))
    dls = blk.dataloaders(path, bs=8)
    record('datablock_grandparent', vocab=list(dls.vocab), n_train=len(dls.train_ds), n_valid=len(dls.valid_ds))

    # numeric labels keep their type and sort as values
    dls = ImageDataLoaders.from_folder(path / 'nums', valid_pct=0.2, seed=0, item_tfms=Resize(32), bs=4)
    record('numeric_labels', vocab=[str(v) for v in dls.vocab], vocab_types=sorted({type(v).__name__ for v in dls.vocab}))

    # a small CNN, learner, lr_find with suggest_funcs, fit_one_cycle, recorder layout, predict, export/load_learner
    dls = ImageDataLoaders.from_folder(path, train='train', valid='valid', item_tfms=Resize(32), bs=16)
    def cnn():
        conv = lambda ni, nf: [nn.Conv2d(ni, nf, 3, stride=2, padding=1), nn.BatchNorm2d(nf), nn.ReLU()]
        return nn.Sequential(*conv(3, 8), *conv(8, 16), *conv(16, 32), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, dls.c))
    learn = Learner(dls, cnn(), metrics=error_rate)
    with learn.no_bar(): sugg = learn.lr_find(show_plot=False)
    lr_min, lr_steep = learn.lr_find(suggest_funcs=(minimum, steep), show_plot=False)
    record('lr_find', n_suggestions=len(sugg), valley_positive=bool(sugg.valley > 0), first_is_valley=sugg[0] == sugg.valley,
           unpacks=bool(lr_min > 0 and lr_steep > 0))
    learn.fit_one_cycle(1, 1e-2, moms=None)
    rec = learn.recorder
    record('recorder', n_cols=len(rec.values[-1]), metric_names=list(rec.metric_names), lrs_type=type(rec.lrs[0]).__name__,
           final_record_len=len(learn.final_record), loss_is_smoothed=bool(abs(float(rec.losses[0]) - 0) >= 0))
    learn.add_cb(type('Count', (__import__('fastai.callback.core' if lib == 'fastai' else 'fastcourse.callback', fromlist=['Callback']).Callback,), {})())
    f = sorted((path / 'valid' / 'circle').iterdir())[0]
    label, idx, probs = learn.predict(f)
    label2, idx2, _ = learn.predict(PILImage.create(f))
    record('predict', label_type=type(label).__name__, idx_type=type(idx).__name__, probs_shape=list(probs.shape), same=label == label2)
    learn.path = path
    learn.export('export.pkl')
    inf = load_learner(path / 'export.pkl', cpu=True)
    record('export', same_label=inf.predict(f)[0] == label)
    return res

if __name__ == '__main__':
    if sys.argv[1:2] == ['--compare']:
        a, b = ({d['idiom']: d for d in (json.loads(l) for l in open(p) if l.startswith('{"idiom"'))} for p in sys.argv[2:4])
        allowed = {}
        if '--allowed' in sys.argv:          # lines "idiom fact: why we differ on purpose"
            for line in open(sys.argv[sys.argv.index('--allowed') + 1]):
                if line.strip() and not line.startswith('#'): key, why = line.split(':', 1); allowed[tuple(key.split())] = why.strip()
        missing = sorted(set(a) - set(b))
        diffs = [(i, k, a[i][k], b[i].get(k)) for i in a if i in b for k in a[i] if a[i][k] != b[i].get(k)]
        for i, k, x, y in diffs:
            print(f"{'differs on purpose' if (i, k) in allowed else 'DIFFERS'}: {i}.{k}: fastai {x!r}, fastcourse {y!r}"
                  + (f" ({allowed[(i, k)]})" if (i, k) in allowed else ''))
        for i in missing: print(f"MISSING: idiom {i} did not run")
        bad = [d for d in diffs if (d[0], d[1]) not in allowed] + missing
        print(f"{len(a)} idioms compared, {len(diffs)} facts differ, {len(bad)} of them not on purpose")
        sys.exit(1 if bad else 0)
    else: main(sys.argv[1] if len(sys.argv) > 1 else 'fastcourse')
