"""Image pipeline throughput: one pass over a folder of JPEGs (decode, resize, random flip, collate, batches of 64,
2 workers, float + normalise), with fastcourse's ImageDataLoaders and with a plain torchvision ImageFolder +
transforms.v2 pipeline doing the same work, in the same run (interleaved passes, median). Also the cost of the
batch augmentation (aug_transforms: one grid_sample for all the geometry, plus lighting) per batch of 64 on the CPU,
next to torchvision's per-image v2 transforms doing similar work. Wall-clock figures need a quiet machine; the CPU time
per image (one process) is printed too, as a measure of the work that a busy machine disturbs less.
usage: python bench/vision_pipeline.py [--tiny] [--n-images N] [--size PX] [--out-size PX] [--repeats R] [--workers W]"""
import argparse, statistics, tempfile, time
from pathlib import Path
import torch
from torch.utils.data import DataLoader
import torchvision
import torchvision.transforms.v2 as v2
from fastcourse.core import set_seed
from fastcourse.datasets import make_shapes
from fastcourse.vision.augment import Resize, Flip, aug_transforms, imagenet_stats
from fastcourse.vision.data import ImageDataLoaders

def ours(folder, out_size, bs, workers):
    "fastcourse: uint8 items (libjpeg-turbo decode, uint8 resize, flip), uint8 collate; float + normalise per batch."
    dls = ImageDataLoaders.from_folder(folder, valid_pct=0., seed=0, item_tfms=[Resize(out_size), Flip()], bs=bs,
                                       num_workers=workers, drop_last=False)
    def one_pass():
        n = 0
        for b in dls.train:
            x, y = dls.after_batch(b, training=True)
            n += len(x)
        return n
    return one_pass

def plain_torchvision(folder, out_size, bs, workers):
    "torchvision: ImageFolder (PIL decode) + v2 per item: resize, centre crop, flip, to float, normalise; default collate."
    tfm = v2.Compose([v2.ToImage(), v2.Resize(out_size, antialias=True), v2.CenterCrop(out_size), v2.RandomHorizontalFlip(),
                      v2.ToDtype(torch.float32, scale=True), v2.Normalize(*imagenet_stats)])
    ds = torchvision.datasets.ImageFolder(folder, transform=tfm)
    dl = DataLoader(ds, batch_size=bs, shuffle=True, num_workers=workers, persistent_workers=workers > 0)
    def one_pass():
        n = 0
        for x, y in dl: n += len(x)
        return n
    return one_pass

def time_passes(fns: dict, repeats: int) -> dict:
    "Median seconds per pass of each function, passes interleaved so machine-speed drifts hit all alike."
    for f in fns.values(): f()   # warm up: start the workers, fill the page cache
    times = {k: [] for k in fns}
    counts = {}
    for _ in range(repeats):
        for k, f in fns.items():
            start = time.perf_counter()
            counts[k] = f()
            times[k].append(time.perf_counter() - start)
    return {k: (statistics.median(v), counts[k]) for k, v in times.items()}

def cpu_per_image(fns: dict) -> dict:
    "CPU microseconds per image for one pass in this process (num_workers=0): the work, less sensitive to a busy machine."
    res = {}
    for k, f in fns.items():
        f()
        start = time.process_time()
        n = f()
        res[k] = (time.process_time() - start) / n * 1e6
    return res

def batch_aug_cost(out_size, bs, repeats):
    "ms per batch of `bs` float images for aug_transforms() (ours) and for per-image v2 transforms of similar work."
    x = torch.rand(bs, 3, out_size, out_size)
    tfms = aug_transforms()
    per_image = v2.Compose([v2.RandomHorizontalFlip(), v2.RandomApply([v2.RandomRotation(10)], p=0.75),
                            v2.RandomApply([v2.RandomAffine(0, scale=(1, 1.1))], p=0.75), v2.RandomPerspective(0.2, p=0.75),
                            v2.RandomApply([v2.ColorJitter(brightness=0.2, contrast=0.2)], p=0.75)])
    def run_ours():
        out = x
        for t in tfms: out = t(out)
        return out
    def run_v2(): return torch.stack([per_image(im) for im in x])
    res = {}
    for name, f in (('ours: aug_transforms, one grid_sample per batch', run_ours), ('torchvision v2, per image', run_v2)):
        f()
        ts = []
        for _ in range(repeats):
            start = time.perf_counter(); f(); ts.append(time.perf_counter() - start)
        res[name] = statistics.median(ts) * 1000
    return res

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--tiny', action='store_true', help='a small folder and one pass, to check the script still works')
    ap.add_argument('--n-images', type=int, default=2000)
    ap.add_argument('--size', type=int, default=160, help='size of the JPEGs on disk')
    ap.add_argument('--out-size', type=int, default=128, help='size after the resize (what the model gets)')
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--workers', type=int, default=2)
    ap.add_argument('--threads', type=int, default=1, help='torch threads of the main process (the workers use 1 each)')
    args = ap.parse_args()
    if args.tiny: args.n_images, args.size, args.out_size, args.repeats = 128, 48, 32, 1
    torch.set_num_threads(args.threads)
    bs = 64
    set_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        classes = ('circle', 'square', 'triangle', 'star')
        root = make_shapes(Path(tmp) / 'shapes', n_per_class=args.n_images // len(classes), size=args.size,
                           classes=classes, valid_pct=0.)
        folder = root / 'train'
        fns = {'fastcourse ImageDataLoaders': ours(folder, args.out_size, bs, args.workers),
               'torchvision ImageFolder + v2': plain_torchvision(folder, args.out_size, bs, args.workers)}
        res = time_passes(fns, args.repeats)
        del fns
        cpu = cpu_per_image({'fastcourse ImageDataLoaders': ours(folder, args.out_size, bs, 0),
                             'torchvision ImageFolder + v2': plain_torchvision(folder, args.out_size, bs, 0)})
    print(f"{args.n_images} JPEGs of {args.size}px -> {args.out_size}px, batches of {bs}, {args.workers} workers, "
          f"median of {args.repeats} passes, main-process torch threads {torch.get_num_threads()}")
    rates = {}
    for k, (t, n) in res.items():
        rates[k] = n / t
        print(f"  {k:<30} {t:7.2f} s/pass  {rates[k]:8.0f} images/s")
    ratio = rates['fastcourse ImageDataLoaders'] / rates['torchvision ImageFolder + v2']
    print(f"throughput ratio fastcourse/torchvision: {ratio:.2f}x (target >= 1, aim 2)")
    print("CPU time per image, one process (no workers), all steps included:")
    for k, v in cpu.items(): print(f"  {k:<30} {v:7.0f} us/image")
    print(f"work ratio torchvision/fastcourse: {cpu['torchvision ImageFolder + v2'] / cpu['fastcourse ImageDataLoaders']:.2f}x")
    aug = batch_aug_cost(args.out_size, bs, 1 if args.tiny else 10)
    print(f"batch augmentation on the CPU ({torch.get_num_threads()} thread(s)), batch of {bs} at {args.out_size}px:")
    for k, v in aug.items(): print(f"  {k:<50} {v:7.1f} ms/batch")
    names = list(aug)
    print(f"per-image v2 / ours: {aug[names[1]] / aug[names[0]]:.2f}x")

if __name__ == '__main__': main()
