"""Training dashboard overhead: one epoch of a small CNN on in-memory data, with the Learner alone and with the
Learner plus an active TrainingDashboard (progress bars and table off for both), and a plain PyTorch loop for
reference, interleaved in the same run. Prints the median time of each and the ratio dashboard/learner (target <= 1.02),
plus the dashboard's own measured time as a share of the fit.
Each fit is timed by the wall clock and by this process's CPU time (which other processes on a busy machine disturb
much less; use --threads 1 there). The dashboard's own time is measured inside its callbacks (setup, redraws, table),
and the cheap per-batch throttle check between redraws is timed separately, per call.
usage: python bench/dashboard_overhead.py [--tiny] [--repeats N] [--epochs N] [--threads N]"""
import argparse, statistics, time
import torch
from torch import nn
import torch.nn.functional as F
from fastcourse.core import set_seed
from fastcourse.data import DataLoaders
from fastcourse.learner import Learner
from fastcourse.widgets.dashboard import TrainingDashboard

def make_model():
    return nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                         nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))

def plain_loop(dls, lr, epochs):
    set_seed(0); model = make_model()
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * len(dls.train), pct_start=0.25)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        model.train()
        for xb, yb in dls.train:
            loss = F.cross_entropy(model(xb), yb)
            loss.backward(); opt.step(); sched.step(); opt.zero_grad(set_to_none=True)
            loss.item()
        model.eval()
        with torch.no_grad():
            for xb, yb in dls.valid: F.cross_entropy(model(xb), yb).item()
    return time.perf_counter() - start, time.process_time() - cpu, None

def learner_loop(dls, lr, epochs, dashboard):
    set_seed(0)
    learn = Learner(dls, make_model(), nn.CrossEntropyLoss(), lr=lr, progress=False)
    # active=True: draw as in a notebook (here there is no frontend to show it); display=False: nothing to show it in
    cbs = [TrainingDashboard(active=True, display=False)] if dashboard else []
    start, cpu = time.perf_counter(), time.process_time()
    learn.fit_one_cycle(epochs, lr, cbs=cbs)
    return time.perf_counter() - start, time.process_time() - cpu, (cbs[0] if cbs else None)

def per_batch_check(dash, n=100_000):
    "Seconds per `after_batch` call of an active dashboard when no redraw is due."
    dash.on, dash.next_time = True, float('inf')
    dash.learn.training = True
    start = time.perf_counter()
    for _ in range(n): dash.after_batch()
    dash.on = False
    return (time.perf_counter() - start) / n

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--tiny', action='store_true', help='a few batches, to check the script still works')
    ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--epochs', type=int, default=1)
    ap.add_argument('--threads', type=int, default=0, help='torch threads (0: torch default)')
    args = ap.parse_args()
    if args.threads: torch.set_num_threads(args.threads)
    n, repeats = (640, 2) if args.tiny else (8192, args.repeats)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)
    n_valid = n // 8
    dls = DataLoaders.from_tensors(x[n_valid:], y[n_valid:], x[:n_valid], y[:n_valid], bs=64,
                                   generator=torch.Generator().manual_seed(1))
    plain_loop(dls, 1e-3, 1); learner_loop(dls, 1e-3, 1, False); learner_loop(dls, 1e-3, 1, True)   # warm up
    names = ['plain', 'learner', 'learner + dashboard']
    wall, cpu = {k: [] for k in names}, {k: [] for k in names}
    redraws, shares = [], []
    for _ in range(repeats):   # interleaved, so drifts in machine speed hit all three alike
        for k in names:
            t, c, dash = (plain_loop(dls, 1e-3, args.epochs) if k == 'plain' else
                          learner_loop(dls, 1e-3, args.epochs, k == 'learner + dashboard'))
            wall[k].append(t); cpu[k].append(c)
            if dash is not None: redraws.append(dash.redraws); shares.append(dash.time_spent / t)
    med = {k: statistics.median(v) for k, v in wall.items()}
    med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
    check = per_batch_check(dash)
    print(f"{args.epochs} epoch(s) of {len(dls.train)} batches of 64 (+ {len(dls.valid)} validation), "
          f"median of {repeats} repeats, {torch.get_num_threads()} torch threads")
    print(f"  {'':<20} {'wall':>9} {'cpu':>9}")
    for k in names: print(f"  {k:<20} {med[k] * 1000:6.0f} ms {med_cpu[k] * 1000:6.0f} ms")
    print(f"dashboard: {statistics.median(redraws):.0f} redraws per fit; its own time is "
          f"{statistics.median(shares) * 100:.2f}% of the fit (median)")
    print(f"per-batch throttle check between redraws: {check * 1e6:.2f} us "
          f"({check * len(dls.train) * args.epochs / med['learner'] * 100:.3f}% of the fit)")
    print(f"ratio learner+dashboard/learner: wall {med['learner + dashboard'] / med['learner']:.3f}, "
          f"cpu {med_cpu['learner + dashboard'] / med_cpu['learner']:.3f} (target <= 1.02)")
    print(f"ratio learner/plain:             wall {med['learner'] / med['plain']:.3f}, "
          f"cpu {med_cpu['learner'] / med_cpu['plain']:.3f}")
    best = {k: min(v) for k, v in cpu.items()}   # the least disturbed run of each: steadier on a busy machine
    print(f"ratio learner+dashboard/learner, fastest runs (cpu): {best['learner + dashboard'] / best['learner']:.3f}")

if __name__ == '__main__': main()
