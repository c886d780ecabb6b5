"""Widget latency, Python side: what one LR-picker slider change costs (state, learn.lr, readout, marker blit, PNG),
against redrawing the whole figure for each change and against a new figure each time, in the same run.
Also the PNG encoder alone (fastcourse's unfiltered zlib vs PIL's), and one FreezeToggles toggle.
usage: python bench/widget_latency.py [--tiny] [--changes N]   (PYTHONPATH=/tmp/ipyw77 for ipywidgets 7.7.1)"""
import argparse, io, statistics, time
import numpy as np
import torch
from torch import nn
from PIL import Image
import ipywidgets, matplotlib
import matplotlib.pyplot as plt
from fastcourse.core import set_seed
from fastcourse.data import DataLoaders
from fastcourse.learner import Learner
from fastcourse.widgets.core import png_bytes, snap_log
from fastcourse.widgets.lr_picker import LRPicker
from fastcourse.widgets.freeze import FreezeToggles

def make_learner():
    set_seed(0)
    x = torch.randn(256, 2); y = (x[:, 0] > 0).long()
    dls = DataLoaders.from_tensors(x, y, x[:64], y[:64], bs=32)
    model = nn.Sequential(nn.Linear(2, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 2))
    return Learner(dls, model, nn.CrossEntropyLoss(), progress=False, splitter=lambda m: [m[:3], m[3:5], m[5:]])

def ms(ts): return 1e3 * statistics.median(ts)
def p90(ts): return 1e3 * sorted(ts)[int(0.9 * (len(ts) - 1))]

def timed(f, n):
    ts = []
    for i in range(n):
        t = time.perf_counter(); f(i); ts.append(time.perf_counter() - t)
    return ts

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tiny', action='store_true', help='a few changes only, to check the script runs (CI)')
    ap.add_argument('--changes', type=int, default=200, help='slider changes to time')
    args = ap.parse_args()
    n = 10 if args.tiny else args.changes
    n_full = 3 if args.tiny else 20

    learn = make_learner()
    learn.lr_find(show_plot=False)              # a real sweep (100 batches of a tiny MLP): the picker reads learn.lr_find_result
    picker = LRPicker(learn)
    s = picker.slider
    grid = [snap_log(10 ** (s.min + (s.max - s.min) * (0.2 + 0.6 * ((i * 0.37) % 1))), s.min, s.max, s.step) for i in range(n)]
    def slide(i):
        v = grid[i]
        if v == s.value: v = snap_log(v * 10 ** s.step, s.min, s.max, s.step)
        s.value = v
    slide(0)                                   # warm up
    draws0 = picker.view.full_draws
    t_slider = timed(slide, n)
    assert picker.view.full_draws == draws0, 'a slider change must not redraw the whole figure'
    assert learn.lr == picker.lr == s.value

    view = picker.view
    t_blit = timed(lambda i: view.update(), n)
    rgba = np.asarray(view.canvas.buffer_rgba())
    t_png = timed(lambda i: png_bytes(rgba), n)
    def pil_png(i):
        b = io.BytesIO(); Image.fromarray(rgba).save(b, format='png', compress_level=1); return b.getvalue()
    t_pil = timed(pil_png, n)
    t_full = timed(lambda i: view.redraw(), n_full)     # the naive way: the whole figure every change
    def new_figure(i):                                   # a new figure each change, as plotting in a loop does
        fig = picker.result.plot(); b = io.BytesIO(); fig.savefig(b, format='png')
        plt.close(fig)
    t_new = timed(new_figure, max(2, n_full // 4))

    ft = FreezeToggles(learn)
    t_toggle = timed(lambda i: setattr(ft.toggles[0], 'value', bool(i % 2)), n)

    w, h = view.size
    print(f"ipywidgets {ipywidgets.__version__}, matplotlib {matplotlib.__version__}, torch threads {torch.get_num_threads()}, "
          f"figure {w}x{h} px, {n} slider changes, lr_find curve of {len(picker.result.lrs)} points")
    print(f"LR picker slider change (Python side): median {ms(t_slider):6.2f} ms   p90 {p90(t_slider):6.2f} ms   target <= 20 ms: "
          f"{'OK' if ms(t_slider) <= 20 else 'MISSED'}")
    print(f"  marker blit + PNG (view.update):     median {ms(t_blit):6.2f} ms")
    print(f"  PNG encode, fastcourse png_bytes:     median {ms(t_png):6.2f} ms  ({len(png_bytes(rgba)) / 1024:.0f} KiB)")
    print(f"  PNG encode, PIL compress_level=1:     median {ms(t_pil):6.2f} ms  ({len(pil_png(0)) / 1024:.0f} KiB)"
          f"  ratio PIL/png_bytes {ms(t_pil) / ms(t_png):.1f}x")
    print(f"full redraw per change (draw + PNG):    median {ms(t_full):6.2f} ms  ratio full/slider {ms(t_full) / ms(t_slider):.1f}x")
    print(f"new figure per change (plot + savefig): median {ms(t_new):6.2f} ms  ratio new/slider {ms(t_new) / ms(t_slider):.1f}x")
    print(f"FreezeToggles toggle (3 groups):        median {ms(t_toggle):6.2f} ms")

if __name__ == '__main__': main()
