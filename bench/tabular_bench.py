"""Tabular: one epoch of tabular_learner against a plain PyTorch loop over the same model and tensors, and the cost of
TabularPandas preprocessing.

The table: N rows (200,000 by default), 8 categorical columns (cardinalities 1000 down to 3, 5% missing in one) and 6
continuous ones (2% missing in two), a continuous target. Timed in the same run:
  preprocessing   TabularPandas(df, procs=[Categorify, FillMissing, Normalize], ...), reported per 100,000 rows
  plain loop      a new random order, each batch indexed straight out of the tensors TabularPandas made, the same
                  TabularModel (same sizes, same seed), AdamW and OneCycleLR stepped per batch, the loss read once per
                  batch: nothing but the training itself
  learner         tabular_learner(dls, layers=[200, 100]).fit_one_cycle(1, lr) on those tensors, progress bars off
Each repeat runs both epochs, in an order that alternates, so drifts in machine speed hit both alike. It prints the median
and spread (min-max) of each, the ratios of the medians and of the minimums (noise only ever adds time, so the minimums
are the steadier figure on a shared machine) and the median of each repeat's ratio. Target: learner/plain <= 1.10.
With --cpu-time it times the CPU this process uses instead of the wall clock: with one thread, the steadier figure on a
machine other processes share.
usage: python bench/tabular_bench.py [--tiny] [--repeats N] [--n N] [--bs N] [--threads N] [--cpu-time]"""
import argparse, statistics, time
import numpy as np
import torch
import torch.nn.functional as F
from fastcourse.core import set_seed
from fastcourse.tabular.core import pd, TabularPandas, Categorify, FillMissing, Normalize
from fastcourse.tabular.learner import TabularModel, get_emb_sz, tabular_learner

CARDS = (1000, 500, 100, 50, 20, 12, 7, 3)
N_CONT, LAYERS, LR = 6, [200, 100], 1e-3
clock = time.perf_counter

def make_table(n: int, seed: int = 0):
    "A table of n rows: 8 categorical columns, 6 continuous ones, with gaps, and a target that depends on them."
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({f'cat{i}': rng.integers(0, c, n) for i, c in enumerate(CARDS)})
    df['cat0'] = 'c' + df['cat0'].astype(str)                        # one column of text categories
    df.loc[rng.random(n) < 0.05, 'cat1'] = np.nan
    for j in range(N_CONT): df[f'cont{j}'] = rng.normal(j, 1 + j, n)
    for j in (0, 3): df.loc[rng.random(n) < 0.02, f'cont{j}'] = np.nan
    effects = [rng.normal(0, 1, c) for c in CARDS]
    y = sum(e[df[f'cat{i}'].str[1:].astype(int) if i == 0 else df[f'cat{i}'].fillna(0).astype(int)] for i, e in enumerate(effects))
    df['y'] = (y + df['cont2'] * 0.3 + rng.normal(0, 0.5, n)).astype(np.float32)
    return df

CAT_NAMES, CONT_NAMES = [f'cat{i}' for i in range(len(CARDS))], [f'cont{j}' for j in range(N_CONT)]

def preprocess(df):
    return TabularPandas(df, procs=[Categorify, FillMissing, Normalize], cat_names=CAT_NAMES, cont_names=CONT_NAMES, y_names='y')

def plain_loop(to, tensors, bs: int) -> float:
    "The floor: the same model and tensors, batches by indexing, AdamW + OneCycleLR, loss read once per batch."
    set_seed(0)
    model = TabularModel(get_emb_sz(to), len(to.cont_names), 1, LAYERS)
    opt = torch.optim.AdamW(model.parameters(), lr=LR)
    x_cat, x_cont, y = tensors
    n_batches = len(y) // bs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=n_batches, pct_start=0.25)
    model.train()
    start = clock()
    idx = torch.randperm(len(y))
    for i in range(n_batches):
        b = idx[i * bs:(i + 1) * bs]
        loss = F.mse_loss(model(x_cat[b], x_cont[b]), y[b])
        loss.backward(); opt.step(); sched.step(); opt.zero_grad(set_to_none=True)
        loss.item()
    return clock() - start

def learner_epoch(dls) -> float:
    set_seed(0)
    learn = tabular_learner(dls, layers=LAYERS, progress=False)
    start = clock()
    learn.fit_one_cycle(1, LR)
    return clock() - start

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--tiny', action='store_true', help='a small table and two repeats, to check the script works (seconds)')
    ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--n', type=int, default=200_000, help='rows')
    ap.add_argument('--bs', type=int, default=64, help="batch size (fastai's default: 64)")
    ap.add_argument('--threads', type=int, default=1, help="torch's CPU threads (default 1: steady on a shared machine)")
    ap.add_argument('--cpu-time', action='store_true', help='time the CPU this process uses rather than the wall clock')
    args = ap.parse_args()
    global clock
    if args.cpu_time: clock = time.process_time
    torch.set_num_threads(args.threads)
    n, repeats = (4000, 2) if args.tiny else (args.n, args.repeats)
    df = make_table(n)
    prep = []
    for _ in range(repeats):
        start = clock(); to = preprocess(df); prep.append(clock() - start)
    dls = to.dataloaders(bs=args.bs, device='cpu')
    tensors = dls.train_ds.tensors
    assert len(dls.train) == n // args.bs   # drop_last, as the plain loop
    runs = {'plain loop': lambda: plain_loop(to, tensors, args.bs), 'learner': lambda: learner_epoch(dls)}
    for f in runs.values(): f()   # warm up
    times = {k: [] for k in runs}
    for r in range(repeats):
        for name in (list(runs) if r % 2 == 0 else list(runs)[::-1]): times[name].append(runs[name]())
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    per_100k = [t * 100_000 / n for t in prep]
    print(f"{n:,} rows, {len(CAT_NAMES)} categorical and {len(CONT_NAMES)} continuous columns, bs={args.bs} "
          f"({len(dls.train)} batches), {torch.get_num_threads()} thread(s), {'CPU' if args.cpu_time else 'wall'} time, {repeats} repeats")
    print(f"  TabularPandas preprocessing  {statistics.median(per_100k):.3f} s per 100,000 rows "
          f"(min {min(per_100k):.3f}, max {max(per_100k):.3f})")
    for k, v in times.items():
        print(f"  {k:<12} {med[k]:8.3f} s  ({best[k]:.3f}-{max(v):.3f})  {med[k] / med['plain loop']:.3f}x  "
              f"{best[k] / best['plain loop']:.3f}x  {n / med[k]:,.0f} rows/s")
    per_run = [l / p for l, p in zip(times['learner'], times['plain loop'])]
    print(f"learner/plain in each repeat: {' '.join(f'{r:.3f}' for r in per_run)}")
    rs = (med['learner'] / med['plain loop'], best['learner'] / best['plain loop'], statistics.median(per_run))
    ok = 'met' if max(rs) <= 1.10 else 'MISSED' if min(rs) > 1.10 else 'met by some measures'
    print(f"summary: learner/plain {rs[0]:.3f} (medians) {rs[1]:.3f} (minimums) {rs[2]:.3f} (median of the repeats' ratios), "
          f"target <= 1.10 {ok}; preprocessing {statistics.median(per_100k):.3f} s per 100,000 rows")

if __name__ == '__main__': main()
