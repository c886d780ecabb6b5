"""Which rule should `valley`, lr_find's default suggestion, use? Candidate rules compared on evidence.

(a) Synthetic curves with a known answer: a plateau (optionally with a small early drop onto a second plateau), a fall
    of 0.75 to 2.5 decades, a blow-up. Raw per-batch losses get multiplicative noise (0, 2, 10, 20%), are smoothed as the
    Recorder does (debiased EMA, beta 0.98), stopped at 4x the best smoothed loss as LRFinder does, and trimmed as
    fastai does ([num_it//10 : -5]). Per rule: the share of picks on the plateau (less than 3% of the true fall done),
    the same judged on the smoothed curve the student sees (less than 10% of its drop done at the pick), past the
    minimum, and the spread across seeds (p10-p90, decades).
(b) Real lr_find curves: an MLP on the README's xor data, an MLP on rendered digits (an 8x8-digits stand-in made with
    PIL), a small CNN on the built-in shapes; several seeds each. Per rule: the suggested lrs and the validation
    accuracy after a short fit_one_cycle at the suggestion (and, with --grid, the accuracy on a grid of lrs).

usage: python bench/lr_suggest_study.py [--tiny] [--seeds N] [--real-seeds N] [--no-real] [--grid]
(--tiny: a few curves and one tiny fit per task, seconds; CI runs it)"""
import argparse, contextlib, functools, io, math, statistics, time
import numpy as np
import torch
from torch import nn
from fastcourse.core import set_seed
from fastcourse.data import DataLoaders
from fastcourse.format import fmt_lr
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
    "Starting level (median of the first tenth), index of the minimum, and the drop between them."
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
    "Walking back from the minimum: where the loss crosses `share` of its drop below the starting level (no 2% guard)."
    l0, i_min, drop = _levels(losses)
    level = l0 - share * drop
    i = i_min
    while i > 0 and losses[i - 1] <= level: i -= 1
    if i == 0: return float(lrs[0])
    t = (losses[i - 1] - level) / (losses[i - 1] - losses[i])
    return 10 ** (math.log10(lrs[i - 1]) + t * (math.log10(lrs[i]) - math.log10(lrs[i - 1])))

def minimum_10(lrs, losses):
    "A tenth of the lr at the lowest loss (fastai's and fastcourse's `minimum`)."
    return float(lrs[min(range(len(losses)), key=losses.__getitem__)]) / 10

RULES = {'fastcourse before (LDS, true start)': lds_true_start,
         'fastai 2.8.12 valley': fastai_valley,
         'level band 10-90% (review)': level_band,
         'halfway down': functools.partial(down_by, share=0.5),
         'valley now: 2/3 down': fc_lr_find.valley,
         '3/4 down': functools.partial(down_by, share=0.75),
         'minimum/10': minimum_10,
         'steep': fc_lr_find.steep}
CHOSEN = 'valley now: 2/3 down'

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
    "Curve shapes: end of the plateau, decades the fall takes, its profile, how far it falls, an early small drop."
    if tiny: return [(-4, 2.5, 1, 0.3, 0.), (-3, 1.5, 2, 0.5, 0.15)]
    return [(x_p, d, p, f, step) for x_p in (-5, -4, -3) for d in (0.75, 1.5, 2.5) for p in (0.5, 1, 2) for f in (0.2, 0.5)
            for step in (0., 0.15)]

def pct(v, q): return float(np.percentile(v, q))

def smooth_done(lrs, losses, lr):
    "The share of the smoothed curve's drop (from its starting level) done at `lr`, as read off the plot."
    l0, i_min, drop = _levels(losses)
    return (l0 - fc_lr_find.LRFindResult(lrs, losses, suggest_funcs=()).loss_at(lr)) / drop

def synthetic(n_seeds, tiny, rules):
    "Per plateau noise and rule: shares of picks on the plateau (true and smoothed), past the minimum, refused; spread."
    rows, agree, n_all = [], 0, 0
    for noise in (0, 0.02, 0.1, 0.2):
        st = {name: dict(flat=0, flat_s=0, past=0, err=0, spread=[]) for name in rules}
        n = 0
        for shape in shapes_grid(tiny):
            x_p, decades = shape[:2]
            picks = {name: [] for name in rules}
            for seed in range(n_seeds):
                lrs, losses = trim(*sweep(np.random.default_rng(seed), noise, shape), 100)
                n += 1
                found = {}
                for name, rule in rules.items():
                    try: found[name] = lr = rule(lrs, losses)
                    except ValueError: st[name]['err'] += 1; continue
                    x = math.log10(lr)
                    st[name]['flat'] += drop_done(x, *shape) < 0.03
                    st[name]['flat_s'] += smooth_done(lrs, losses, lr) < 0.1
                    st[name]['past'] += x > x_p + decades
                    picks[name].append(x)
                if CHOSEN in found:   # the library's valley is the 2/3 rule of down_by, plus its 2% guard
                    n_all += 1; agree += math.isclose(found[CHOSEN], down_by(lrs, losses, 2 / 3), rel_tol=1e-12)
            for name in rules:
                if len(picks[name]) > 2: st[name]['spread'].append(pct(picks[name], 90) - pct(picks[name], 10))
        for name, v in st.items():
            rows.append(dict(noise=noise, rule=name, n=n, flat=v['flat'] / n, flat_s=v['flat_s'] / n, past=v['past'] / n,
                             err=v['err'] / n, spread=statistics.mean(v['spread']) if v['spread'] else float('nan')))
    return rows, agree, n_all

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
                    except ValueError: out[name] += 1
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
    "Per task, seed and rule: the suggestion on a real lr_find curve and the accuracy after a short fit at it."
    rows = []
    for tname, task in TASKS.items():
        for seed in range(n_seeds):
            (xt, yt, xv, yv), model, bs, n_epoch = task(seed, tiny)
            if tiny: n_epoch = 1
            learn = Learner(DataLoaders.from_tensors(xt, yt, xv, yv, bs=bs), model, nn.CrossEntropyLoss(), progress=False)
            num_it = 30 if tiny else 100
            res = learn.lr_find(num_it=num_it, show_plot=False, suggest_funcs=())
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
    "Accuracy on a grid of lrs (half decades), mean over seeds: where the best lr for this short fit really is."
    out = {}
    for tname, task in TASKS.items():
        n_epoch = 1 if tiny else task(0, tiny)[3]
        for lr in ([1e-2] if tiny else [10 ** (e / 2) for e in range(-8, 1)]):
            out[tname, lr] = statistics.mean(accuracy_after(task, s, tiny, lr, n_epoch) for s in range(n_seeds))
    return out

def span(lrs):
    "The range of suggested lrs, as text."
    ok = [v for v in lrs if not math.isnan(v)]
    if not ok: return 'refused'
    lo, hi = fmt_lr(min(ok)), fmt_lr(max(ok))
    return (lo if lo == hi else f"{lo} - {hi}") + ('' if len(ok) == len(lrs) else f" ({len(lrs) - len(ok)} refused)")

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--tiny', action='store_true', help='a few curves and one tiny fit per task, to check the script still works')
    ap.add_argument('--seeds', type=int, default=10, help='seeds per synthetic curve shape')
    ap.add_argument('--real-seeds', type=int, default=5, help='seeds per real task')
    ap.add_argument('--no-real', action='store_true', help='only the synthetic curves')
    ap.add_argument('--grid', action='store_true', help='also fit on a grid of lrs, to show where the best lr is')
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    n_seeds, real_seeds = (3, 1) if args.tiny else (args.seeds, args.real_seeds)
    start = time.time()
    print(f"(a) synthetic curves: {len(shapes_grid(args.tiny))} shapes x {n_seeds} seeds at each plateau noise level")
    syn, agree, n_agree = synthetic(n_seeds, args.tiny, RULES)
    by = {(r['rule'], r['noise']): r for r in syn}
    print("on the plateau: pick where < 3% of the true fall is done (noise 0 / 2 / 10 / 20%); on the smoothed curve: < 10% of")
    print("its drop done at the pick, at 2% noise; past: beyond the end of the fall, all noise levels; spread: p10-p90 at 10%")
    print("| rule | on the plateau, noise 0 / 2 / 10 / 20% | smoothed, 2% | past the minimum | spread (decades) |")
    print("|---|---|---|---|---|")
    for name in RULES:
        r = [by[name, nz] for nz in (0, 0.02, 0.1, 0.2)]
        print(f"| {name} | {' / '.join(format(x['flat'], '.0%') for x in r)} | {r[1]['flat_s']:.0%} | "
              f"{statistics.mean(x['past'] for x in r):.0%} | {r[2]['spread']:.2f} |")
    refused, n_flat = flat_curves(n_seeds, RULES)
    print(f"curves that never fall ({n_flat}), share refused with ValueError: " + ', '.join(f"{k} {v:.0%}" for k, v in refused.items()))
    print(f"the library's valley equals down_by(share=2/3) on {agree} of {n_agree} curves it did not refuse")
    t_syn = time.time() - start
    overall = {}
    if not args.no_real:
        print(f"\n(b) real lr_find curves, {real_seeds} seed(s) per task: suggested lrs (min - max over seeds) and the mean")
        print("validation accuracy after a short fit_one_cycle at the suggestion (xor and digits 3 epochs, shapes 4)")
        rs = real(real_seeds, args.tiny, RULES)
        print('| rule | ' + ' | '.join(TASKS) + ' | mean accuracy |\n|---|' + '---|' * (len(TASKS) + 1))
        for name in RULES:
            cells = []
            for tname in TASKS:
                sel = [r for r in rs if r['task'] == tname and r['rule'] == name]
                accs = [r['acc'] for r in sel if not math.isnan(r['acc'])]
                cells.append(f"{span([r['lr'] for r in sel])}: {statistics.mean(accs) if accs else float('nan'):.3f}")
            accs = [r['acc'] for r in rs if r['rule'] == name and not math.isnan(r['acc'])]
            overall[name] = statistics.mean(accs) if accs else float('nan')
            print(f"| {name} | {' | '.join(cells)} | {overall[name]:.3f} |")
        if args.grid:
            g = grid(real_seeds, args.tiny)
            cells = []
            for tname in TASKS:
                best = max((lr for t, lr in g if t == tname), key=lambda lr: g[tname, lr])
                cells.append(f"{fmt_lr(best)}: {g[tname, best]:.3f}")
            print(f"| best lr on a grid of half decades | {' | '.join(cells)} | |")
            print('accuracy on the grid: ' + '; '.join(f"{t} {fmt_lr(lr)} {a:.3f}" for (t, lr), a in g.items()))
    flat2 = {name: by[name, 0.02]['flat'] for name in RULES}
    print(f"\nsummary: {time.time() - start:.0f} s (synthetic {t_syn:.0f} s); on the plateau at 2% noise: "
          + ', '.join(f"{k} {v:.0%}" for k, v in flat2.items())
          + ('; mean accuracy: ' + ', '.join(f"{k} {v:.3f}" for k, v in overall.items()) if overall else ''))

if __name__ == '__main__': main()
