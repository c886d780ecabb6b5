"""MixUp (and CutMix) overhead per training batch: one epoch of a small CNN on in-memory images, trained by the same
Learner without a callback, with MixUp and with CutMix, interleaved in the same run (no validation set, so only
training batches are timed). Prints the median time per batch of each, the ratios to the plain learner, and the
callbacks' own time per batch measured directly (mixing the inputs in `before_batch` plus the blended loss, against the
plain loss). Each fit is timed by the wall clock and by this process's CPU time (steadier on a busy machine; use
--threads 1 there).
usage: python bench/mixup_overhead.py [--tiny] [--repeats N] [--bs N] [--size N] [--threads N]"""
import argparse, statistics, time
from types import SimpleNamespace
import torch
from torch import nn
from fastcourse.core import set_seed
from fastcourse.data import DataLoaders
from fastcourse.learner import Learner
from fastcourse.mixup import MixUp, CutMix

def make_model():
    return nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))

def fit_time(dls, cb_class):
    "Wall and CPU seconds of one epoch with the callback `cb_class` (None: without)."
    set_seed(0)
    learn = Learner(dls, make_model(), nn.CrossEntropyLoss(), lr=1e-3, progress=False)
    cbs = [cb_class()] if cb_class is not None else []
    start, cpu = time.perf_counter(), time.process_time()
    learn.fit(1, cbs=cbs)
    return time.perf_counter() - start, time.process_time() - cpu

def own_time(cb_class, xb, yb, n=200):
    "Seconds per batch of the callback's own work: before_batch plus the blended loss, minus the plain loss."
    lf = nn.CrossEntropyLoss()
    pred = torch.randn(len(yb), 10)
    fake = SimpleNamespace(training=True, xb=(xb,), yb=(yb,), loss_func=lf)
    cb = cb_class(); cb.learn = fake
    start = time.perf_counter()
    for _ in range(n):
        fake.xb, fake.yb = (xb,), (yb,)
        cb.before_batch(); fake.loss_func(pred, *fake.yb); cb.after_loss()
    mixed = (time.perf_counter() - start) / n
    start = time.perf_counter()
    for _ in range(n): lf(pred, yb)
    return mixed - (time.perf_counter() - start) / n

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--tiny', action='store_true', help='a few batches, to check the script still works')
    ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--bs', type=int, default=64)
    ap.add_argument('--size', type=int, default=32, help='image side in pixels')
    ap.add_argument('--threads', type=int, default=0, help='torch threads (0: torch default)')
    args = ap.parse_args()
    if args.threads: torch.set_num_threads(args.threads)
    n, repeats = (8 * args.bs, 2) if args.tiny else (64 * args.bs, args.repeats)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 3, args.size, args.size, generator=g), torch.randint(0, 10, (n,), generator=g)
    dls = DataLoaders.from_tensors(x, y, bs=args.bs, generator=torch.Generator().manual_seed(1))
    n_batches = len(dls.train)
    runs = {'learner': None, 'learner + MixUp': MixUp, 'learner + CutMix': CutMix}
    for cb in runs.values(): fit_time(dls, cb)   # warm up
    wall, cpu = {k: [] for k in runs}, {k: [] for k in runs}
    for _ in range(repeats):   # interleaved, so drifts in machine speed hit all alike
        for k, cb in runs.items():
            t, c = fit_time(dls, cb)
            wall[k].append(t / n_batches); cpu[k].append(c / n_batches)
    med = {k: statistics.median(v) for k, v in wall.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    own = {k: own_time(cb, x[:args.bs], y[:args.bs], n=20 if args.tiny else 200) for k, cb in runs.items() if cb is not None}
    print(f"1 epoch of {n_batches} batches of {args.bs} images {args.size}x{args.size}, median of {repeats} repeats, "
          f"{torch.get_num_threads()} torch threads")
    print(f"  {'per batch':<18} {'wall':>9} {'cpu':>9} {'ratio wall':>11} {'ratio cpu':>10}")
    for k in runs:
        print(f"  {k:<18} {med[k] * 1000:6.2f} ms {med_cpu[k] * 1000:6.2f} ms "
              f"{med[k] / med['learner']:11.3f} {med_cpu[k] / med_cpu['learner']:10.3f}")
    for k, t in own.items(): print(f"  own work of {k.split(' + ')[1]} (before_batch + blended loss - plain loss): {t * 1e6:.0f} us per batch")
    best = {k: min(v) for k, v in cpu.items()}   # the least disturbed run of each: steadier on a busy machine
    print(f"summary: MixUp overhead per batch {(med['learner + MixUp'] - med['learner']) * 1000:+.2f} ms wall, ratio "
          f"wall {med['learner + MixUp'] / med['learner']:.3f}, cpu {med_cpu['learner + MixUp'] / med_cpu['learner']:.3f} "
          f"(fastest runs {best['learner + MixUp'] / best['learner']:.3f}); CutMix ratio wall "
          f"{med['learner + CutMix'] / med['learner']:.3f}, cpu {med_cpu['learner + CutMix'] / med_cpu['learner']:.3f}")

if __name__ == '__main__': main()
