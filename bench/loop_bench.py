"""Learner overhead: one epoch of a small CNN on in-memory data, with the Learner and with a plain PyTorch loop
doing the same forward, backward, step and OneCycleLR steps, in the same run. Prints the median time ratio.
usage: python bench/loop_bench.py [--tiny] [--repeats N]"""
import argparse, statistics, time
import torch
from torch import nn
import torch.nn.functional as F
from fastcourse.core import set_seed
from fastcourse.data import DataLoaders
from fastcourse.learner import Learner
from fastcourse.callback import ProgressCB

def make_model():
    return nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))

def plain_loop(dls, lr):
    set_seed(0); model = make_model()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=len(dls.train), pct_start=0.25)
    model.train()
    start = time.perf_counter()
    for xb, yb in dls.train:
        loss = F.cross_entropy(model(xb), yb)
        loss.backward(); opt.step(); sched.step(); opt.zero_grad(set_to_none=True)
        loss.item()   # a real loop looks at its loss; the Learner reads it once per batch too
    return time.perf_counter() - start

def learner_loop(dls, lr, progress):
    set_seed(0)
    learn = Learner(dls, make_model(), nn.CrossEntropyLoss(), lr=lr, progress=False)
    if progress: learn.add_cb(ProgressCB(show_table=False))   # the bars, without the printed table
    start = time.perf_counter()
    learn.fit_one_cycle(1, lr)
    return time.perf_counter() - start

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--tiny', action='store_true', help='a few batches, to check the script still works')
    ap.add_argument('--repeats', type=int, default=7)
    args = ap.parse_args()
    n, repeats = (640, 2) if args.tiny else (4096, args.repeats)
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)
    dls = DataLoaders.from_tensors(x, y, bs=64, generator=torch.Generator().manual_seed(1))
    plain_loop(dls, 1e-3); learner_loop(dls, 1e-3, False)   # warm up
    times = {'plain': [], 'learner (no bar)': [], 'learner (bar)': []}
    runs = {'plain': lambda: plain_loop(dls, 1e-3), 'learner (no bar)': lambda: learner_loop(dls, 1e-3, False),
            'learner (bar)': lambda: learner_loop(dls, 1e-3, True)}
    names = list(runs)
    for r in range(repeats):   # interleaved, in a rotating order, so drifts in machine speed hit all three alike
        for name in names[r % 3:] + names[:r % 3]: times[name].append(runs[name]())
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{len(dls.train)} batches of 64, median of {repeats} repeats")
    for k, v in med.items(): print(f"  {k:<18} {v * 1000:8.1f} ms")
    print(f"ratio learner/plain, progress off: {med['learner (no bar)'] / med['plain']:.3f} (target <= 1.05)")
    print(f"ratio learner/plain, progress on:  {med['learner (bar)'] / med['plain']:.3f} (target <= 1.10)")

if __name__ == '__main__': main()
