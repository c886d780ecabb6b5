"""Image pipeline throughput: fastcourse's image data against torchvision's ImageFolder + transforms.v2, the same work.

Both read a folder of JPEGs, decode, crop-resize to --out-size, flip at random, batch (64), and end with a normalised float
batch on --device. fastcourse decodes (libjpeg-turbo, draft-decoding big JPEGs small), crops and resizes uint8 images in the
workers (flipping there too, `FlipItem`, where torchvision flips) and batches them as uint8; the batch goes to the device
as uint8 and is made float and normalised there (`ImageDataLoaders.after_batch`). fastcourse's workers are threads of the training process by default
(`ImageLoader(threads=W)`: decoding and resizing release Python's lock), or W processes as torch's (`threads=False`); both
are timed. torchvision decodes with PIL, resizes, crops, flips, converts to float and
normalises every image in the workers, batches floats, and the batch goes to the device. Same workers, same batch size,
same pinned memory.

Passes are timed with persistent workers and with workers restarted every epoch (a new worker pool per pass, its start
included), interleaved (ours, theirs, ours, ...), median of --repeats. Then a profile: the cost of each step for one image
or one batch, in one process: decoding, resizing, collation, the transfer, and the batch steps on the device (to float, the
per-image flip, the whole aug_transforms affine, lighting, normalisation). A second table adds full augmentation
(aug_transforms on the device against per-image torchvision v2 transforms of the same kinds in the workers).

The JPEGs look like photos to the decoder (smooth colour fields, a shape, noise; quality 90), --size WxH on disk.
usage: python bench/vision_pipeline.py [--tiny] [--n-images N] [--size WxH] [--out-size PX] [--repeats R] [--workers W]
                                       [--device cpu|cuda] [--threads T] [--no-aug]"""
import argparse, statistics, tempfile, time
from pathlib import Path
import numpy as np
import torch
from torch.utils.data import DataLoader, default_collate
import torchvision
import torchvision.transforms.v2 as v2
from PIL import Image, ImageDraw
from fastcourse.core import set_seed, to_device
from fastcourse.vision.image import imagenet_stats, load_image_tensor, get_image_files
from fastcourse.vision.augment import Resize, Flip, FlipItem, aug_transforms, split_tfm
from fastcourse.vision.data import (DataBlock, ImageBlock, CategoryBlock, RandomSplitter, parent_label, collate_images, ImageLoader,
                                    process_batch)

def make_jpegs(folder: Path, n: int, w: int, h: int, n_classes: int = 4, seed: int = 0) -> Path:
    "`n` JPEGs of w x h in `n_classes` class folders: a smooth colour field, a shape and noise, quality 90."
    rng = np.random.default_rng(seed)
    for i in range(n):
        d = folder / f"class{i % n_classes}"
        d.mkdir(parents=True, exist_ok=True)
        field = Image.fromarray(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)).resize((w, h), Image.BICUBIC)
        draw = ImageDraw.Draw(field)
        x0, y0 = int(rng.integers(0, w // 2)), int(rng.integers(0, h // 2))
        box = [x0, y0, x0 + int(rng.integers(w // 4, w // 2)), y0 + int(rng.integers(h // 4, h // 2))]
        (draw.ellipse if i % 2 else draw.rectangle)(box, fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
        a = np.asarray(field).astype(np.int16) + rng.normal(0, 6, (h, w, 3)).astype(np.int16)
        Image.fromarray(a.clip(0, 255).astype(np.uint8)).save(d / f"{i}.jpg", quality=90)
    return folder

def sync(device):
    if device.type == 'cuda': torch.cuda.synchronize()

def tv_transforms(out: int, aug: bool) -> v2.Compose:
    "torchvision's per-image pipeline; with `aug`, per-image transforms of the kinds aug_transforms() does on the batch."
    extra = [v2.RandomApply([v2.RandomPerspective(0.2, p=1.)], p=0.75), v2.RandomApply([v2.RandomRotation(10)], p=0.75),
             v2.RandomApply([v2.RandomAffine(0, scale=(1, 1.1))], p=0.75),
             v2.RandomApply([v2.ColorJitter(brightness=0.2, contrast=0.2)], p=0.75)] if aug else []
    return v2.Compose([v2.ToImage(), v2.Resize(out, antialias=True), v2.CenterCrop(out), v2.RandomHorizontalFlip(), *extra,
                       v2.ToDtype(torch.float32, scale=True), v2.Normalize(*imagenet_stats)])

class Ours:
    "fastcourse: `DataBlock` datasets, uint8 batches from the workers (threads or processes), `after_batch` on the device."
    def __init__(self, folder, out, bs, workers, persistent, device, aug=False, threads=True):
        block = DataBlock(blocks=(ImageBlock, CategoryBlock), get_items=get_image_files, splitter=RandomSplitter(0.),
                          get_y=parent_label, item_tfms=Resize(out) if aug else [Resize(out), FlipItem()],
                          batch_tfms=aug_transforms() if aug else None)
        dsets = block.datasets(folder)
        self.dls = dsets.dataloaders(bs=bs, num_workers=0, device=device)   # for after_batch: stats, batch transforms
        # the loader ImageDataLoaders builds, here with persistent_workers set either way (threads start with each epoch)
        work = dict(threads=workers) if threads else dict(num_workers=workers, persistent_workers=persistent and workers > 0)
        self.dl = ImageLoader(dsets.train, batch_size=bs, shuffle=True, collate_fn=collate_images,
                              pin_memory=device.type == 'cuda', **work)
        self.device = device
    def __call__(self) -> int:
        n = 0
        for b in self.dl:
            x, y = self.dls.after_batch(to_device(b, self.device), training=True)
            n += len(x)
        sync(self.device)
        return n

class Theirs:
    "torchvision: ImageFolder + transforms.v2 per image in the workers, float batches to the device."
    def __init__(self, folder, out, bs, workers, persistent, device, aug=False):
        ds = torchvision.datasets.ImageFolder(str(folder), transform=tv_transforms(out, aug))
        self.dl = DataLoader(ds, batch_size=bs, shuffle=True, num_workers=workers, persistent_workers=persistent and workers > 0,
                             pin_memory=device.type == 'cuda')
        self.device = device
    def __call__(self) -> int:
        n = 0
        for x, y in self.dl:
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            n += len(x)
        sync(self.device)
        return n

def time_passes(fns: dict, repeats: int) -> dict:
    "Median seconds per pass and images per pass of each function, passes interleaved so drifts hit all alike."
    for f in fns.values(): f()   # warm up: page cache, persistent workers, CUDA
    times, counts = {k: [] for k in fns}, {}
    for _ in range(repeats):
        for k, f in fns.items():
            start = time.perf_counter()
            counts[k] = f()
            times[k].append(time.perf_counter() - start)
    return {k: (statistics.median(v), counts[k]) for k, v in times.items()}

def first_batch_s(make, repeats: int = 3) -> float:
    "Median seconds from a new (non-persistent) iterator to its first batch: the cost of starting the workers."
    ts = []
    for _ in range(repeats):
        p = make()
        start = time.perf_counter()
        next(iter(p.dl))
        ts.append(time.perf_counter() - start)
    return statistics.median(ts)

def per_item_us(f, items, repeats: int = 3) -> float:
    "Best CPU microseconds per item of `f` over `items`, in this process."
    f(items[0])
    best = float('inf')
    for _ in range(repeats):
        start = time.process_time()
        for o in items: f(o)
        best = min(best, (time.process_time() - start) / len(items) * 1e6)
    return best

def per_batch_ms(f, device, repeats: int = 10) -> float:
    "Median wall milliseconds of `f()` (a batch step), synchronised on the device."
    f(); sync(device)
    ts = []
    for _ in range(repeats):
        sync(device); start = time.perf_counter(); f(); sync(device)
        ts.append(time.perf_counter() - start)
    return statistics.median(ts) * 1000

def profile(folder, out, bs, device, n_files: int) -> list:
    "(step, ours, theirs) rows: microseconds per image for the worker steps, milliseconds per batch for the batch steps."
    files = get_image_files(folder)[:n_files]
    r = Resize(out)
    decode_size = r.decode_size
    ours_x = [load_image_tensor(f, decode_size) for f in files]
    tv_dec = lambda f: v2.functional.to_image(torchvision.datasets.folder.default_loader(f))
    tv_x = [tv_dec(f) for f in files]
    tv_rc = v2.Compose([v2.Resize(out, antialias=True), v2.CenterCrop(out)])
    tv_norm = v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize(*imagenet_stats)])
    train_r = split_tfm(r, True)
    ours_r, tv_r = [train_r(x) for x in ours_x], [tv_rc(x) for x in tv_x]
    tv_f = [tv_norm(x) for x in tv_r]
    rows = [('read + decode (us/image)', per_item_us(lambda f: load_image_tensor(f, decode_size), files), per_item_us(tv_dec, files)),
            ('crop + resize (us/image)', per_item_us(train_r, ours_x), per_item_us(tv_rc, tv_x)),
            ('flip, per image (us/image)', per_item_us(split_tfm(FlipItem(p=1.), True), ours_r), per_item_us(v2.RandomHorizontalFlip(p=1.), tv_r)),
            ('to float + normalise, per image (us/image)', None, per_item_us(tv_norm, tv_r))]
    chunks = lambda xs: [xs[i:i + bs] for i in range(0, len(xs) - bs + 1, bs)] or [xs]
    rows.append(('collate (us/image)', per_item_us(lambda c: collate_images([(x, 0) for x in c]), chunks(ours_r)) / bs,
                 per_item_us(lambda c: default_collate([(x, 0) for x in c]), chunks(tv_f)) / bs))
    xb = torch.stack((ours_r * (bs // len(ours_r) + 1))[:bs])
    xf = torch.stack((tv_f * (bs // len(tv_f) + 1))[:bs])
    pin = (lambda t: t.pin_memory()) if device.type == 'cuda' else (lambda t: t)
    xb_p, xf_p = pin(xb), pin(xf)
    rows.append((f'batch to {device.type} (ms/batch)', per_batch_ms(lambda: xb_p.to(device, non_blocking=True), device),
                 per_batch_ms(lambda: xf_p.to(device, non_blocking=True), device)))
    xd = xb.to(device)
    xfd = xd.float().div_(255)
    aff, light = aug_transforms()
    mean, std = imagenet_stats
    m = torch.tensor(mean, device=device).view(1, 3, 1, 1); s = torch.tensor(std, device=device).view(1, 3, 1, 1)
    rows += [(f'to float on {device.type} (ms/batch)', per_batch_ms(lambda: xd.float().div_(255), device), None),
             (f'or: flip per image in the batch, on {device.type} (ms/batch)', per_batch_ms(lambda: Flip()(xfd), device), None),
             (f'aug_transforms affine, on {device.type} (ms/batch)', per_batch_ms(lambda: aff(xfd), device), None),
             (f'aug_transforms lighting, on {device.type} (ms/batch)', per_batch_ms(lambda: light(xfd), device), None),
             (f'normalise on {device.type} (ms/batch)', per_batch_ms(lambda: xfd.clone().sub_(m).div_(s), device), None),
             (f'after_batch: uint8 -> normalised float, on {device.type} (ms/batch)', per_batch_ms(lambda: process_batch(xd, [], imagenet_stats), device), None)]
    return rows

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--tiny', action='store_true', help='a small folder and one pass, to check the script still works')
    ap.add_argument('--n-images', type=int, default=2000)
    ap.add_argument('--size', default='160x160', help='size of the JPEGs on disk, WxH (e.g. 500x375 for photos like the pets)')
    ap.add_argument('--out-size', type=int, default=128, help='size after the crop-resize (what the model gets)')
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--device', default=None, help="where batches go (default: cuda if there is one, else cpu)")
    ap.add_argument('--threads', type=int, default=1, help='torch threads of the main process (the workers use 1 each)')
    ap.add_argument('--no-aug', action='store_true', help='skip the table with full augmentation')
    args = ap.parse_args()
    if args.tiny: args.n_images, args.size, args.out_size, args.repeats = 128, '48x40', 32, 1
    device = torch.device(args.device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    torch.set_num_threads(args.threads)
    w, h = (int(v) for v in args.size.split('x'))
    bs = 64
    set_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_jpegs(Path(tmp) / 'jpegs', args.n_images, w, h)
        print(f"{args.n_images} JPEGs of {w}x{h} -> {args.out_size}px, batches of {bs}, {args.workers} workers, device {device}, "
              f"median of {args.repeats} passes, main-process torch threads {torch.get_num_threads()}, torch {torch.__version__}, "
              f"torchvision {torchvision.__version__}, {len(__import__('os').sched_getaffinity(0))} cpus")
        ratios = {}
        for aug in ([False] if args.no_aug else [False, True]):
            print(f"\n{'full augmentation (aug_transforms on the batch / per-image v2 in the workers)' if aug else 'crop-resize + random flip (in the workers)'}:")
            for persistent in (True, False):
                mode = 'persistent workers' if persistent else 'workers restarted every pass'
                fns = {'fastcourse (threads)': Ours(folder, args.out_size, bs, args.workers, persistent, device, aug),
                       'fastcourse (processes)': Ours(folder, args.out_size, bs, args.workers, persistent, device, aug, False),
                       'torchvision v2': Theirs(folder, args.out_size, bs, args.workers, persistent, device, aug)}
                res = time_passes(fns, args.repeats)
                rates = {k: n / t for k, (t, n) in res.items()}
                tv = rates['torchvision v2']
                print(f"  {mode}:")
                for k in fns: print(f"    {k:<24} {rates[k]:7.0f} images/s ({res[k][0]:.3f} s/pass)  {rates[k] / tv:5.2f}x")
                ratios[(aug, persistent)] = (rates['fastcourse (threads)'] / tv, rates['fastcourse (processes)'] / tv)
                del fns
        starts = {k: first_batch_s(f) for k, f in (
            ('fastcourse (threads)', lambda: Ours(folder, args.out_size, bs, args.workers, False, device)),
            ('fastcourse (processes)', lambda: Ours(folder, args.out_size, bs, args.workers, False, device, threads=False)),
            ('torchvision v2', lambda: Theirs(folder, args.out_size, bs, args.workers, False, device)))}
        print("\nfrom a new epoch's iterator to its first batch (workers started, one batch made): " +
              ', '.join(f"{k} {v * 1000:.0f} ms" for k, v in starts.items()))
        print(f"\nwhere the time goes, one process ({torch.get_num_threads()} thread), {min(args.n_images, 256)} images:")
        print(f"  {'step':<62} {'fastcourse':>11} {'torchvision':>11}")
        fmt = lambda v: f"{v:11.1f}" if v is not None else f"{'-':>11}"
        rows = profile(folder, args.out_size, bs, device, min(args.n_images, 256))
        for name, a, b in rows: print(f"  {name:<62} {fmt(a)} {fmt(b)}")
        worker = [(a or 0, b or 0) for name, a, b in rows if 'us/image' in name]
        wa, wb = sum(a for a, _ in worker), sum(b for _, b in worker)
        ab = next(a for name, a, _ in rows if name.startswith('after_batch')) * 1000 / bs
        print(f"  {'worker work per image (us), sum of the above':<62} {wa:11.1f} {wb:11.1f}   -> {wb / wa:.2f}x")
        print(f"  {'and per image on the device (us): after_batch':<62} {ab:11.1f} {0:11.1f}   -> {wb / (wa + ab):.2f}x all told")
        print(f"\nbytes per batch from the workers: fastcourse {3 * args.out_size ** 2 * bs / 1e6:.1f} MB (uint8), "
              f"torchvision {4 * 3 * args.out_size ** 2 * bs / 1e6:.1f} MB (float32)")
        (pt, pp), (rt, rp) = ratios[(False, True)], ratios[(False, False)]
        print(f"\nthroughput ratio fastcourse / torchvision (crop-resize + flip), target >= 2: "
              f"persistent workers {pt:.2f}x (threads), {pp:.2f}x (processes); "
              f"restarted workers {rt:.2f}x (threads), {rp:.2f}x (processes)")

if __name__ == '__main__': main()
