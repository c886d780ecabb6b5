"""Optimizer step time: fastcourse's stepper-built `Adam` against `torch.optim.AdamW` (torch's default implementation) on
the same models with the same gradients, in the same run, measured alternately. Prints the median step time of each and
their ratio (target <= 1.3). Also shown for reference: torch's AdamW with foreach=True and fused=True.
usage: python bench/optimizer_bench.py [--tiny] [--repeats N] [--threads N]"""
import argparse, statistics, time
import torch
from torch import nn
from fastcourse.optimizer import Adam

def cnn(width: int = 64, depth: int = 8) -> nn.Module:
    "Many small tensors: a plain conv net with BatchNorm (4 tensors per block)."
    blocks = [nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
    for _ in range(depth): blocks += [nn.Conv2d(width, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
    return nn.Sequential(*blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10))

def mlp(width: int = 1024, depth: int = 4) -> nn.Module:
    "A few large tensors: a wide MLP."
    layers = []
    for _ in range(depth): layers += [nn.Linear(width, width), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(width, 10))

def with_grads(make_model, seed: int = 0) -> list[torch.Tensor]:
    "The parameters of a fresh model, each with a fixed random gradient (the same for every call)."
    torch.manual_seed(seed)
    ps = list(make_model().parameters())
    for p in ps: p.grad = torch.randn_like(p)
    return ps

OPTIMIZERS = {   # same hyper-parameters: lr 1e-3, betas (0.9, 0.999), eps 1e-8, decoupled weight decay 0.01
    'fastcourse Adam': lambda ps: Adam(ps, lr=1e-3, mom=0.9, sqr_mom=0.999, eps=1e-8, wd=0.01),
    'torch AdamW': lambda ps: torch.optim.AdamW(ps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
    'torch AdamW foreach': lambda ps: torch.optim.AdamW(ps, lr=1e-3, eps=1e-8, weight_decay=0.01, foreach=True),
    'torch AdamW fused': lambda ps: torch.optim.AdamW(ps, lr=1e-3, eps=1e-8, weight_decay=0.01, fused=True),
}

def max_difference(make_model, n_steps: int = 3) -> float:
    "How far fastcourse's Adam and torch's AdamW are apart after `n_steps` identical steps (they should agree)."
    a, b = with_grads(make_model), with_grads(make_model)
    opt_a, opt_b = OPTIMIZERS['fastcourse Adam'](a), OPTIMIZERS['torch AdamW'](b)
    for _ in range(n_steps): opt_a.step(); opt_b.step()
    return max((x - y).abs().max().item() for x, y in zip(a, b))

def time_steps(make_model, repeats: int, inner: int) -> dict[str, float]:
    "Median seconds per `step()` for each optimizer, measured alternately in a rotating order."
    opts = {}
    for name, make in OPTIMIZERS.items():
        try: opts[name] = make(with_grads(make_model))
        except (RuntimeError, ValueError, TypeError): pass   # e.g. fused AdamW where the device has none
    for opt in opts.values(): opt.step()                       # state created, first-call costs paid
    times, names = {n: [] for n in opts}, list(opts)
    for r in range(repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            for _ in range(inner): opts[name].step()
            times[name].append((time.perf_counter() - start) / inner)
    return {n: statistics.median(t) for n, t in times.items()}

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--tiny', action='store_true', help='small models and few repeats, to check the script still works')
    ap.add_argument('--repeats', type=int, default=15)
    ap.add_argument('--threads', type=int, default=1, help='torch CPU threads (1 gives steadier timings on a shared machine)')
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.tiny: models, repeats, inner = {'cnn': lambda: cnn(16, 2), 'mlp': lambda: mlp(128, 2)}, 3, 2
    else: models, repeats, inner = {'cnn': cnn, 'mlp': mlp}, args.repeats, 5
    ratios = {}
    for label, make_model in models.items():
        ps = with_grads(make_model)
        diff = max_difference(make_model)
        med = time_steps(make_model, repeats, inner)
        ratios[label] = med['fastcourse Adam'] / med['torch AdamW']
        print(f"{label}: {len(ps)} tensors, {sum(p.numel() for p in ps):,} parameters, on the CPU with {args.threads} thread(s); "
              f"median of {repeats} x {inner} steps; max |difference| after 3 steps: {diff:.1e}")
        for name, t in med.items(): print(f"  {name:<22} {t * 1e3:8.3f} ms/step  ({t / med['torch AdamW']:.2f} x torch AdamW)")
    worst = max(ratios.values())
    print(f"optimizer_bench: fastcourse Adam / torch AdamW step time: "
          + ', '.join(f'{k} {v:.2f}' for k, v in ratios.items())
          + f" (target <= 1.3): {'PASS' if worst <= 1.3 else 'FAIL'}")

if __name__ == '__main__': main()
