"""lr_find overhead: 100 iterations of lr_find on a small CNN against a plain PyTorch loop that does the same
exponential sweep (with loss smoothing and the divergence check) and restores a copy of the state, in one run.
Both only sweep: lr_find is asked for no suggestion (suggest_funcs=()), and on these random labels the curve has no valley.
usage: python bench/lr_find_bench.py [--tiny] [--repeats N]"""
import argparse, copy, statistics, time
import torch
import torch.nn.functional as F
from torch import nn
from fastcourse.core import set_seed
from fastcourse.data import DataLoaders
from fastcourse.learner import Learner
from loop_bench import make_model

def plain_sweep(dls, model, opt, num_it, start_lr=1e-7, end_lr=10.):
    start = time.perf_counter()
    saved_model = {k: v.detach().to('cpu', copy=True) for k, v in model.state_dict().items()}
    saved_opt = copy.deepcopy(opt.state_dict())
    rng = torch.get_rng_state()
    model.train()
    lrs, losses, mov, best, i = [], [], 0., float('inf'), 0
    while i < num_it:
        for xb, yb in dls.train:
            lr = start_lr * (end_lr / start_lr) ** (i / num_it)
            for pg in opt.param_groups: pg['lr'] = lr
            loss = F.cross_entropy(model(xb), yb)
            loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
            v = loss.item(); i += 1
            mov = 0.98 * mov + 0.02 * v; smooth = mov / (1 - 0.98 ** i)
            lrs.append(lr); losses.append(smooth); best = min(best, smooth)
            if smooth > 4 * best or i >= num_it: break
        if smooth > 4 * best: break
    model.load_state_dict(saved_model); opt.load_state_dict(saved_opt); torch.set_rng_state(rng)
    return time.perf_counter() - start, len(lrs)

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--tiny', action='store_true', help='a few batches, to check the script still works')
    ap.add_argument('--repeats', type=int, default=5)
    args = ap.parse_args()
    n, num_it, repeats = (640, 10, 2) if args.tiny else (2048, 100, args.repeats)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)
    dls = DataLoaders.from_tensors(x, y, bs=64)
    set_seed(0)
    learn = Learner(dls, make_model(), nn.CrossEntropyLoss(), progress=False)
    learn.fit(1)   # an optimizer with state, as after a first fit
    t_fc, t_plain = [], []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        res = learn.lr_find(num_it=num_it, show_plot=False, stop_div=False, suggest_funcs=())
        t_fc.append(time.perf_counter() - start)
        t, n_plain = plain_sweep(dls, learn.model, learn.opt, num_it)
        t_plain.append(t)
    t_fc, t_plain = t_fc[1:], t_plain[1:]   # the first round warms up
    assert len(res.lrs) == n_plain == num_it, (len(res.lrs), n_plain)
    mf, mp = statistics.median(t_fc), statistics.median(t_plain)
    print(f"lr_find, {num_it} iterations, median of {repeats}: fastcourse {mf * 1000:.1f} ms, plain loop {mp * 1000:.1f} ms")
    print(f"ratio lr_find/plain: {mf / mp:.3f} (target <= 1.10)")

if __name__ == '__main__': main()
