"""Collaborative filtering: one epoch (training and validation) of collab_learner against a plain PyTorch loop over the
same model (EmbeddingDotBias, 50 factors, y_range) and the same tensors, timed in the same run:
  plain loop   a new random order each epoch, each batch indexed straight out of the tensors, AdamW and OneCycleLR
               stepped per batch, the loss read once per batch; then the validation batches under no_grad
  plain, 2 groups  the same with the optimizer given the learner's two layer groups (factors, biases) as param groups:
               (torch's AdamW then runs once per group): separates the cost of the layer groups from the Learner's
  learner      collab_learner(dls).fit_one_cycle(1) on CollabDataLoaders.from_df, progress off
The ratings are make_ratings' (47,292 ratings of 300 films by 1,000 users). Each repeat runs all three, in an order that
rotates, and the script prints the median and the minimum of each and the ratios (noise from other processes only
adds time, so the minimums are the steadier figure on a shared machine).
usage: python bench/collab_bench.py [--tiny] [--repeats N] [--bs N] [--threads N]"""
import argparse, statistics, time
import torch
import torch.nn.functional as F
import pandas as pd
from fastcourse.core import set_seed
from fastcourse.collab import CollabDataLoaders, EmbeddingDotBias, collab_learner, collab_splitter, make_ratings

LR, Y_RANGE = 5e-3, (0.5, 5.5)

def plain_epoch(dls, groups: bool = False) -> float:
    "One epoch of the same model in plain PyTorch, on the loaders' tensors (`groups`: the learner's param groups)."
    x, y = dls.train_ds.tensors
    xv, yv = dls.valid_ds.tensors
    bs, n_batches = dls.bs, len(x) // dls.bs
    set_seed(0)
    model = EmbeddingDotBias.from_classes(50, dls.classes, y_range=Y_RANGE)
    params = ([{'params': list(g.parameters())} for g in collab_splitter(model)] if groups else model.parameters())
    opt = torch.optim.AdamW(params, lr=LR)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=n_batches, pct_start=0.25)
    start = time.perf_counter()
    model.train()
    idx = torch.randperm(len(x))
    for i in range(n_batches):
        b = idx[i * bs:(i + 1) * bs]
        loss = F.mse_loss(model(x[b]), y[b][:, 0])
        loss.backward(); opt.step(); sched.step(); opt.zero_grad(set_to_none=True)
        loss.item()
    model.eval()
    with torch.no_grad():
        for i in range(0, len(xv), bs): F.mse_loss(model(xv[i:i + bs]), yv[i:i + bs][:, 0]).item()
    return time.perf_counter() - start

def learner_epoch(dls) -> float:
    set_seed(0)
    learn = collab_learner(dls, n_factors=50, y_range=Y_RANGE, progress=False)
    start = time.perf_counter()
    learn.fit_one_cycle(1, LR)
    return time.perf_counter() - start

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--tiny', action='store_true', help='a small ratings set and 2 repeats: a check that it runs (seconds)')
    ap.add_argument('--repeats', type=int, default=7)
    ap.add_argument('--bs', type=int, default=64)
    ap.add_argument('--threads', type=int, default=1, help="torch's CPU threads (1: fastest for these small models)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    path = make_ratings(n_users=100, n_items=50, ratings_per_user=20) if args.tiny else make_ratings()
    repeats = 2 if args.tiny else args.repeats
    dls = CollabDataLoaders.from_df(pd.read_csv(path/'ratings.csv'), bs=args.bs, seed=42, device='cpu')
    runs = {'plain loop': lambda: plain_epoch(dls), 'plain, 2 groups': lambda: plain_epoch(dls, groups=True),
            'learner': lambda: learner_epoch(dls)}
    for f in runs.values(): f()   # warm up
    times = {k: [] for k in runs}
    for r in range(repeats):
        k = r % len(runs)
        for name in list(runs)[k:] + list(runs)[:k]: times[name].append(runs[name]())   # the order rotates
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    print(f"{len(dls.train_ds)} training and {len(dls.valid_ds)} validation ratings, bs={dls.bs} ({len(dls.train)} batches), "
          f"{torch.get_num_threads()} threads, {repeats} repeats: median (min)")
    for k in runs: print(f"  {k:<15} {med[k] * 1000:8.1f} ms  ({best[k] * 1000:.1f})")
    print(f"summary: collab_learner epoch / plain loop {med['learner'] / med['plain loop']:.3f} (medians) "
          f"{best['learner'] / best['plain loop']:.3f} (minimums); against a plain loop with the same 2 param groups "
          f"{med['learner'] / med['plain, 2 groups']:.3f}/{best['learner'] / best['plain, 2 groups']:.3f}; "
          f"plain {best['plain loop'] * 1000:.0f} ms, "
          f"learner {best['learner'] * 1000:.0f} ms per epoch of {len(dls.train)} batches")

if __name__ == '__main__': main()
