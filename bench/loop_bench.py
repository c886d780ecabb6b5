"""Learner overhead: one epoch of a small CNN on in-memory tensors, timed in the same run four ways:
  floor              a loop that indexes the tensors directly by batch (x[idx], y[idx]): nothing but the training itself
  torch DataLoader   the same loop over torch's DataLoader(TensorDataset(x, y)) (per-item fetching and collating)
  learner (no bar)   fastcourse's Learner.fit_one_cycle on DataLoaders.from_tensors, progress off
  learner (bar)      the same with the progress bars on
The loops do the same forward, backward, AdamW step and OneCycleLR step per batch, and read the loss once per batch
as the Learner does. Each repeat runs all four, in an order rotated every repeat, so drifts in machine speed hit all
alike. It prints the median and the spread (min-max) of each, and the ratios to the floor of the medians and of the
minimums (noise from other processes only ever adds time, so the minimums are the steadier figure on a shared machine),
and the median of the learner/floor ratios of each repeat (runs next to each other share the machine's state).
usage: python bench/loop_bench.py [--tiny] [--repeats N] [--n N] [--threads N] [--cpu-time]"""
import argparse, statistics, time
clock = time.perf_counter   # --cpu-time: time.process_time
import torch
from torch import nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from fastcourse.core import set_seed
from fastcourse.data import DataLoaders
from fastcourse.learner import Learner
from fastcourse.callback import ProgressCB

BS, LR = 64, 1e-3

def make_model():
    return nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))

def train_loop(batches, n_batches):
    "The plain loop over any iterable of (xb, yb): AdamW and OneCycleLR, as fit_one_cycle does."
    set_seed(0); model = make_model()
    opt = torch.optim.AdamW(model.parameters(), lr=LR)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=n_batches, pct_start=0.25)
    model.train()
    start = clock()
    for xb, yb in batches():
        loss = F.cross_entropy(model(xb), yb)
        loss.backward(); opt.step(); sched.step(); opt.zero_grad(set_to_none=True)
        loss.item()   # a real loop looks at its loss; the Learner reads it once per batch too
    return clock() - start

def floor_loop(x, y):
    "The floor: a new random order each epoch, and each batch indexed straight out of the tensors."
    n_batches = len(x) // BS
    def batches():
        idx = torch.randperm(len(x))
        for i in range(n_batches):
            b = idx[i * BS:(i + 1) * BS]
            yield x[b], y[b]
    return train_loop(batches, n_batches)

def torch_loop(x, y):
    dl = DataLoader(TensorDataset(x, y), batch_size=BS, shuffle=True, drop_last=True)
    return train_loop(lambda: dl, len(dl))

def learner_loop(dls, progress):
    set_seed(0)
    learn = Learner(dls, make_model(), nn.CrossEntropyLoss(), lr=LR, progress=False)
    if progress: learn.add_cb(ProgressCB(show_table=False))   # the bars, without the printed table
    start = clock()
    learn.fit_one_cycle(1, LR)
    return clock() - start

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--tiny', action='store_true', help='a few batches, to check the script still works (seconds)')
    ap.add_argument('--repeats', type=int, default=7)
    ap.add_argument('--n', type=int, default=4096, help='training items (64 per batch)')
    ap.add_argument('--threads', type=int, default=None, help="torch's CPU threads (default: torch's own choice)")
    ap.add_argument('--cpu-time', action='store_true', help='time the CPU this process uses rather than the wall clock '
                    '(steadier on a shared machine; use with --threads 1)')
    args = ap.parse_args()
    global clock
    if args.cpu_time: clock = time.process_time
    if args.threads: torch.set_num_threads(args.threads)
    n, repeats = (640, 2) if args.tiny else (args.n, args.repeats)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)
    dls = DataLoaders.from_tensors(x, y, bs=BS, device='cpu')
    runs = {'floor': lambda: floor_loop(x, y), 'torch DataLoader': lambda: torch_loop(x, y),
            'learner (no bar)': lambda: learner_loop(dls, False), 'learner (bar)': lambda: learner_loop(dls, True)}
    for f in runs.values(): f()   # warm up
    times = {k: [] for k in runs}
    names = list(runs)
    for r in range(repeats):
        k = r % len(names)
        for name in names[k:] + names[:k]: times[name].append(runs[name]())
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    print(f"{type(dls.train).__name__}: {len(dls.train)} batches of {BS}, {torch.get_num_threads()} threads, "
          f"{'CPU' if args.cpu_time else 'wall'} time, "
          f"{repeats} repeats: median (min-max), and ratios to the floor of the medians and of the minimums")
    for k, v in times.items():
        print(f"  {k:<18} {med[k] * 1000:8.1f} ms  ({best[k] * 1000:.1f}-{max(v) * 1000:.1f})  "
              f"{med[k] / med['floor']:.3f}x  {best[k] / best['floor']:.3f}x")
    per_run = [l / f for l, f in zip(times['learner (no bar)'], times['floor'])]
    print(f"learner (no bar)/floor in each repeat: {' '.join(f'{r:.3f}' for r in per_run)}")
    r_med, r_min, r_pair = (med['learner (no bar)'] / med['floor'], best['learner (no bar)'] / best['floor'],
                            statistics.median(per_run))
    rs = (r_med, r_min, r_pair)
    ok = 'met' if max(rs) <= 1.05 else 'MISSED' if min(rs) > 1.05 else 'met by some measures'
    print(f"summary: learner/floor {r_med:.3f} (medians) {r_min:.3f} (minimums) {r_pair:.3f} (median of the repeats' "
          f"ratios), target <= 1.05 {ok}; "
          f"with bars {med['learner (bar)'] / med['floor']:.3f}/{best['learner (bar)'] / best['floor']:.3f}; "
          f"torch DataLoader/floor {med['torch DataLoader'] / med['floor']:.3f}/{best['torch DataLoader'] / best['floor']:.3f}")

if __name__ == '__main__': main()
