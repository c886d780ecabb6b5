"""Which rule should `valley`, lr_find's default suggestion, use? Candidate rules compared on evidence.

(a) Synthetic curves with a known answer: a plateau, a fall, a blow-up; raw per-batch losses with multiplicative noise,
    smoothed as the Recorder does (debiased EMA, beta 0.98), stopped at 4x the best smoothed loss as LRFinder does,
    trimmed as fastai does ([num_it//10 : -5]). For each plateau noise level: the share of picks on the plateau
    (< 3% of the fall done), past the minimum, the spread across seeds (p10-p90, decades) and the distance (decades)
    from the falling stretch.
(b) Real lr_find curves: an MLP on the README's xor data, an MLP on rendered digits, a small CNN on the built-in shapes,
    several seeds each. For each rule: the suggested lr and the validation accuracy after a short one-cycle fit at it.

usage: python bench/lr_suggest_study.py [--tiny] [--seeds N] [--real-seeds N] [--no-real]
(--tiny: a few curves and one tiny fit per task, seconds; CI runs it)"""
import argparse, contextlib, io, math, statistics, time
import numpy as np
import torch
from torch import nn
from fastcourse.core import set_seed
from fastcourse.data import DataLoaders
from fastcourse.learner import Learner
from fastcourse import lr_find as fc_lr_find

# ---------------------------------------------------------------------------------------------------------------
# The candidate rules. Each takes the trimmed lrs and smoothed losses and returns an lr (or raises ValueError).

def lds_true_start(lrs, losses):
    "fastcourse's valley before this study: longest decreasing subsequence, from its true first element to its end."
    n = len(losses)
    best_len, prev = [1] * n, [-1] * n
    for i in range(1, n):
        for j in range(i):
            if losses[j] > losses[i] and best_len[j] + 1 >= best_len[i]: best_len[i], prev[i] = best_len[j] + 1, j
    end = max(range(n), key=lambda i: (best_len[i], -i))
    start = end
    while prev[start] != -1: start = prev[start]
    return 10 ** ((math.log10(lrs[start]) + math.log10(lrs[end])) / 2)

def fastai_valley(lrs, losses):
    "fastai 2.8.12's valley, line for line: LDS, a run assumed contiguous, idx = start + int(len/3) + int(len/6)."
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1): lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return float(lrs[idx])

def _levels(losses):
    "Plateau level L0 (median of the first tenth), index of the minimum, and the drop L0 - min."
    k = max(1, len(losses) // 10)
    l0 = sorted(losses[:k])[k // 2]
    i_min = min(range(len(losses)), key=losses.__getitem__)
    drop = l0 - losses[i_min]
    if drop <= 0: raise ValueError('the loss never falls')
    return l0, i_min, drop

def level_band(lrs, losses, lo=0.1, hi=0.9):
    "The review's rule: geometric middle of the stretch where the loss goes from lo to hi of its drop below the plateau."
    l0, i_min, drop = _levels(losses)
    b = next(i for i in range(i_min + 1) if losses[i] <= l0 - hi * drop)
    a = b
    while a > 0 and losses[a - 1] < l0 - lo * drop: a -= 1
    return 10 ** ((math.log10(lrs[a]) + math.log10(lrs[b])) / 2)

def down_by(lrs, losses, share=0.5):
    "Where the loss, on its way down to its minimum, has done `share` of its drop below the plateau (walking back from the minimum)."
    l0, i_min, drop = _levels(losses)
    level = l0 - share * drop
    i = i_min
    while i > 0 and losses[i - 1] <= level: i -= 1
    if i == 0: return float(lrs[0])
    t = (losses[i - 1] - level) / (losses[i - 1] - losses[i])    # interpolate the crossing in log lr
    return 10 ** (math.log10(lrs[i - 1]) + t * (math.log10(lrs[i]) - math.log10(lrs[i - 1])))

def halfway(lrs, losses): return down_by(lrs, losses, 0.5)
def three_quarters(lrs, losses): return down_by(lrs, losses, 0.75)

def minimum_10(lrs, losses):
    "A tenth of the lr at the lowest loss."
    return float(lrs[min(range(len(losses)), key=losses.__getitem__)]) / 10

def steep(lrs, losses):
    "Where the smoothed loss falls fastest per decade (the middle of the steepest step)."
    logs = [math.log10(v) for v in lrs]
    slopes = [(losses[i + 1] - losses[i]) / (logs[i + 1] - logs[i]) for i in range(len(lrs) - 1)]
    i = min(range(len(slopes)), key=slopes.__getitem__)
    return 10 ** ((logs[i] + logs[i + 1]) / 2)

RULES = {'fc before (LDS true start)': lds_true_start, 'fastai valley': fastai_valley, 'level band 10-90%': level_band,
         'halfway down': halfway, '3/4 down': three_quarters, 'minimum/10': minimum_10, 'steep': steep}

def trim(lrs, losses, num_it):
    "The stretch the suggestions read, as fastai: skip the first num_it//10 points and the last 5."
    return list(lrs[num_it // 10:-5]), list(losses[num_it // 10:-5])

# ---------------------------------------------------------------------------------------------------------------
# (a) Synthetic curves

def true_curve(x, x_p, decades, power, floor, step=0.):
    """Noise-free loss at log10 lr x: 1 on the plateau up to x_p, a fall to `floor` over `decades`, then a blow-up.
    `step`: a small early drop (half a decade long, 2.5 decades before the main fall) onto a second plateau."""
    x_f = x_p + decades
    if x <= x_p: return 1 - step * min(max((x - x_p + 2.5) / 0.5, 0), 1)
    if x <= x_f: return (1 - step) - (1 - step - floor) * ((x - x_p) / decades) ** power
    return floor + 3 * ((x - x_f) / 0.5) ** 2

def drop_done(x, x_p, decades, power, floor, step=0.):
    "The share of the main fall done at log10 lr x (0 on the plateaus, 1 at the end of the fall)."
    if x <= x_p: return 0.
    return min(1., ((x - x_p) / decades) ** power)

def sweep(rng, noise, shape, num_it=100, start_lr=1e-7, end_lr=10., beta=0.98):
    "A simulated lr_find: raw losses with multiplicative noise, smoothed and stopped like LRFinder."
    lrs, losses, mov, best = [], [], 0., math.inf
    for i in range(num_it):
        lr = start_lr * (end_lr / start_lr) ** (i / num_it)
        raw = true_curve(math.log10(lr), *shape) * (1 + noise * rng.standard_normal())
        mov = beta * mov + (1 - beta) * raw
        smooth = mov / (1 - beta ** (i + 1))
        lrs.append(lr); losses.append(smooth); best = min(best, smooth)
        if smooth > 4 * best: break
    return lrs, losses

def shapes_grid(tiny):
    "Curve shapes: where the plateau ends, how many decades the fall takes, its profile, how far it falls."
    if tiny: return [(-4, 2.5, 1, 0.3, 0.), (-3, 1.5, 2, 0.5, 0.15)]
    return [(x_p, d, p, f, step) for x_p in (-5, -4, -3) for d in (1.5, 2.5) for p in (0.5, 1, 2) for f in (0.2, 0.5)
            for step in (0., 0.15)]

def pct(v, q): return float(np.percentile(v, q))

def synthetic(n_seeds, tiny, rules):
    rows = []
    for noise in (0, 0.02, 0.1, 0.2):
        stats = {name: dict(flat=0, past=0, err=0, spread=[], dist=[], pos=[]) for name in rules}
        n = 0
        for shape in shapes_grid(tiny):
            x_p, decades = shape[:2]
            picks = {name: [] for name in rules}
            for seed in range(n_seeds):
                rng = np.random.default_rng(seed)
                lrs, losses = trim(*sweep(rng, noise, shape), 100)
                n += 1
                for name, rule in rules.items():
                    try: x = math.log10(rule(lrs, losses))
                    except ValueError: stats[name]['err'] += 1; continue
                    st = stats[name]
                    st['flat'] += drop_done(x, *shape) < 0.03
                    st['past'] += x > x_p + decades
                    st['dist'].append(max(x_p - x, 0, x - x_p - decades))
                    st['pos'].append((x - x_p) / decades)
                    picks[name].append(x)
            for name in rules:
                if len(picks[name]) > 2: stats[name]['spread'].append(pct(picks[name], 90) - pct(picks[name], 10))
        for name, st in stats.items():
            rows.append(dict(noise=noise, rule=name, n=n, flat=st['flat'] / n, past=st['past'] / n, err=st['err'] / n,
                             spread=statistics.mean(st['spread']) if st['spread'] else float('nan'),
                             dist=statistics.mean(st['dist']) if st['dist'] else float('nan'),
                             pos=statistics.median(st['pos']) if st['pos'] else float('nan')))
    return rows

def flat_curves(n_seeds, rules):
    "Curves that never fall (a noisy plateau, then a blow-up; or a loss that only rises): how often each rule refuses."
    out = {name: 0 for name in rules}; n = 0
    for noise in (0, 0.02, 0.1, 0.2):
        for seed in range(n_seeds):
            rng = np.random.default_rng(1000 + seed)
            for shape in ((-2, 1e-9, 1, 1.), (-7, 1e-9, 1, 1.)):   # plateau then blow-up at 1e-2; rising from the start
                lrs, losses = sweep(rng, noise, shape)
                lrs, losses = trim(lrs, losses, 100) if len(lrs) > 20 else (lrs, losses)
                n += 1
                for name, rule in rules.items():
                    try: rule(lrs, losses)
                    except (ValueError, StopIteration, IndexError): out[name] += 1
    return {k: v / n for k, v in out.items()}, n

# ---------------------------------------------------------------------------------------------------------------
# (b) Real lr_find curves

def xor_task(seed, tiny):
    "The README's example: an MLP on 2-d points labelled by the sign of x0*x1."
    set_seed(seed)
    x = torch.randn(1024, 2); y = (x[:, 0] * x[:, 1] > 0).long()
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 2))
    return (x[:896], y[:896], x[896:], y[896:]), model, 64, 3

def digit_images(n, seed, size=16):
    "Digits 0-9 drawn with PIL's default font, randomly shifted, scaled, rotated and noised (an 8x8-digits stand-in)."
    from PIL import Image, ImageDraw, ImageFont
    rng = np.random.default_rng(seed)
    font = ImageFont.load_default(size=20)
    glyphs = []
    for d in range(10):
        im = Image.new('L', (28, 28), 0); ImageDraw.Draw(im).text((14, 14), str(d), fill=255, font=font, anchor='mm')
        glyphs.append(im)
    xs, ys = np.zeros((n, size, size), np.float32), rng.integers(0, 10, n)
    for k, d in enumerate(ys):
        im = glyphs[d].rotate(rng.uniform(-15, 15), resample=Image.BILINEAR, translate=tuple(rng.uniform(-2, 2, 2)))
        s = int(rng.integers(size, size + 6))
        c = (s - size) // 2
        xs[k] = np.asarray(im.resize((s, s), Image.BILINEAR).crop((c, c, c + size, c + size)), np.float32) / 255
    xs += rng.normal(0, 0.15, xs.shape).astype(np.float32)
    x = torch.from_numpy(xs).flatten(1); y = torch.from_numpy(ys).long()
    return (x - x.mean()) / x.std(), y

def digits_task(seed, tiny):
    "An MLP on rendered digits."
    n = 600 if tiny else 2000
    x, y = digit_images(n, seed=0)
    n_train = n * 4 // 5
    set_seed(seed)
    model = nn.Sequential(nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    return (x[:n_train], y[:n_train], x[n_train:], y[n_train:]), model, 64, 3

def shapes_tensors(tiny):
    "The built-in shapes dataset, read once into normalised tensors."
    from PIL import Image
    from fastcourse.datasets import make_shapes
    path = make_shapes(n_per_class=30 if tiny else 150, size=32, seed=42)
    classes = sorted(p.name for p in (path / 'train').iterdir())
    def load(split):
        files = [(f, i) for i, c in enumerate(classes) for f in sorted((path / split / c).iterdir())]
        x = torch.stack([torch.from_numpy(np.asarray(Image.open(f).convert('RGB'), np.float32) / 255).permute(2, 0, 1) for f, _ in files])
        return x, torch.tensor([i for _, i in files])
    xt, yt = load('train'); xv, yv = load('valid')
    mean, std = xt.mean((0, 2, 3), keepdim=True), xt.std((0, 2, 3), keepdim=True)
    return (xt - mean) / std, yt, (xv - mean) / std, yv

_SHAPES = {}
def shapes_task(seed, tiny):
    "A small CNN on the built-in shapes."
    if tiny not in _SHAPES: _SHAPES[tiny] = shapes_tensors(tiny)
    def block(i, o): return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))
    set_seed(seed)
    model = nn.Sequential(block(3, 16), block(16, 32), block(32, 64), nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(64, 4))
    return _SHAPES[tiny], model, 32, 4

TASKS = {'xor MLP': xor_task, 'digits MLP': digits_task, 'shapes CNN': shapes_task}

def accuracy_after(task, seed, tiny, lr, n_epoch):
    "Validation accuracy after fit_one_cycle(n_epoch, lr) from the task's initial weights."
    (xt, yt, xv, yv), model, bs, _ = task(seed, tiny)
    learn = Learner(DataLoaders.from_tensors(xt, yt, xv, yv, bs=bs), model, nn.CrossEntropyLoss(), progress=False)
    set_seed(seed + 100)
    try:
        with contextlib.redirect_stdout(io.StringIO()): learn.fit_one_cycle(n_epoch, lr)   # no epoch table
    except FloatingPointError: return 0.   # the loss became NaN: as good as untrained
    model.eval()
    with torch.no_grad():
        dev = next(model.parameters()).device
        return (model(xv.to(dev)).argmax(1).cpu() == yv).float().mean().item()

def real(n_seeds, tiny, rules):
    rows = []
    for tname, task in TASKS.items():
        for seed in range(n_seeds):
            (xt, yt, xv, yv), model, bs, n_epoch = task(seed, tiny)
            if tiny: n_epoch = 1
            learn = Learner(DataLoaders.from_tensors(xt, yt, xv, yv, bs=bs), model, nn.CrossEntropyLoss(), progress=False)
            num_it = 30 if tiny else 100
            res = learn.lr_find(num_it=num_it, show_plot=False)
            lrs, losses = trim(res.lrs, res.losses, num_it)
            cache = {}
            for name, rule in rules.items():
                try: lr = rule(lrs, losses)
                except ValueError: rows.append(dict(task=tname, seed=seed, rule=name, lr=float('nan'), acc=float('nan'))); continue
                key = f"{lr:.3g}"
                if key not in cache: cache[key] = accuracy_after(task, seed, tiny, lr, n_epoch)
                rows.append(dict(task=tname, seed=seed, rule=name, lr=lr, acc=cache[key]))
    return rows

def grid(n_seeds, tiny):
    "Accuracy on a grid of lrs: where the best lr for this short fit really is."
    out = {}
    for tname, task in TASKS.items():
        n_epoch = 1 if tiny else task(0, tiny)[3]
        for lr in ([1e-2] if tiny else [10 ** (e / 2) for e in range(-8, 1)]):
            out[tname, lr] = statistics.mean(accuracy_after(task, s, tiny, lr, n_epoch) for s in range(n_seeds))
    return out

# ---------------------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--tiny', action='store_true', help='a few curves and one tiny fit per task, to check the script still works')
    ap.add_argument('--seeds', type=int, default=15, help='seeds per synthetic curve shape')
    ap.add_argument('--real-seeds', type=int, default=5, help='seeds per real task')
    ap.add_argument('--no-real', action='store_true', help='only the synthetic curves')
    ap.add_argument('--grid', action='store_true', help='also fit on a grid of lrs, to show where the best lr is')
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    n_seeds, real_seeds = (3, 1) if args.tiny else (args.seeds, args.real_seeds)
    start = time.time()
    rules = RULES
    print(f"(a) synthetic curves: {len(shapes_grid(args.tiny))} shapes x {n_seeds} seeds per plateau noise level")
    print("    flat: pick on the plateau (<3% of the fall done); past: beyond the minimum; spread: p10-p90 across seeds (decades);")
    print("    dist: mean decades outside the falling stretch; pos: median position in the fall (0 start, 1 end); err: refused")
    print(f"| noise | rule | flat | past | spread | dist | pos | err |\n|---|---|---|---|---|---|---|---|")
    syn = synthetic(n_seeds, args.tiny, rules)
    for r in syn:
        print(f"| {r['noise']:.0%} | {r['rule']} | {r['flat']:.0%} | {r['past']:.0%} | {r['spread']:.2f} | {r['dist']:.2f} | {r['pos']:.2f} | {r['err']:.0%} |")
    refused, n_flat = flat_curves(n_seeds, rules)
    print(f"\ncurves that never fall ({n_flat}): share refused with ValueError: " + ', '.join(f"{k} {v:.0%}" for k, v in refused.items()))
    if not args.no_real:
        print(f"\n(b) real lr_find curves, {real_seeds} seed(s) per task; accuracy after a short fit_one_cycle at the suggestion")
        rs = real(real_seeds, args.tiny, rules)
        print("| task | rule | suggested lrs | mean accuracy |\n|---|---|---|---|")
        for tname in TASKS:
            for name in rules:
                sel = [r for r in rs if r['task'] == tname and r['rule'] == name]
                lrs = ', '.join('refused' if math.isnan(r['lr']) else fc_lr_find.fmt_lr(r['lr']) for r in sel)
                accs = [r['acc'] for r in sel if not math.isnan(r['acc'])]
                print(f"| {tname} | {name} | {lrs} | {statistics.mean(accs) if accs else float('nan'):.3f} |")
        if args.grid:
            g = grid(real_seeds, args.tiny)
            print("\naccuracy on a grid of lrs (mean over seeds):")
            for (tname, lr), acc in g.items(): print(f"  {tname} lr={fc_lr_find.fmt_lr(lr)}: {acc:.3f}")
        overall = {name: statistics.mean(r['acc'] for r in rs if r['rule'] == name and not math.isnan(r['acc'])) for name in rules}
    flat2 = {r['rule']: r['flat'] for r in syn if r['noise'] == 0.02}
    best = max(overall, key=overall.get) if not args.no_real else None
    print(f"\nsummary: {time.time() - start:.0f} s; flat picks at 2% noise: " + ', '.join(f"{k} {v:.0%}" for k, v in flat2.items())
          + ('' if best is None else f"; mean accuracy over all tasks: " + ', '.join(f"{k} {v:.3f}" for k, v in overall.items())))

if __name__ == '__main__': main()
