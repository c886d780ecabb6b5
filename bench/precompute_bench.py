"""One head epoch with a frozen resnet18 body, three ways: naive through the Learner, Precompute (cache cost and epoch
apart), and a plain PyTorch naive loop. `python bench/precompute_bench.py [--tiny] [--n 2048] [--size 64]`"""
import argparse, time
import torch
from torch import nn
from torch.utils.data import TensorDataset
from torchvision.models import resnet18
from fastcourse.core import set_seed
from fastcourse.data import DataLoaders
from fastcourse.vision.learner import vision_learner
from fastcourse.vision.precompute import Precompute, _mem_cache

def plain_epoch(dls) -> float:
    "One naive epoch in plain PyTorch: frozen body in eval mode under no_grad, a linear head trained."
    set_seed(1)
    body = nn.Sequential(*list(resnet18().children())[:-2]).eval()
    for p in body.parameters(): p.requires_grad_(False)
    head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 4))
    opt = torch.optim.AdamW(head.parameters(), 1e-3)
    t = time.perf_counter()
    for xb, yb in dls.train:
        with torch.no_grad(): f = body(xb)
        loss = nn.functional.cross_entropy(head(f), yb); loss.backward(); opt.step(); opt.zero_grad()
    head.eval()
    with torch.no_grad():
        for xb, yb in dls.valid: nn.functional.cross_entropy(head(body(xb)), yb)
    return time.perf_counter() - t

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tiny', action='store_true', help='256 images of 32 px: a quick check that it runs')
    ap.add_argument('--n', type=int, default=2048); ap.add_argument('--size', type=int, default=64)
    ap.add_argument('--bs', type=int, default=64)
    a = ap.parse_args()
    n, size = (256, 32) if a.tiny else (a.n, a.size)
    set_seed(0)
    x, y = torch.rand(n, 3, size, size), torch.randint(0, 4, (n,))
    nv = n // 5
    dls = DataLoaders.from_dsets(TensorDataset(x[nv:], y[nv:]), TensorDataset(x[:nv], y[:nv]), bs=a.bs, device='cpu')
    print(f"resnet18 (pretrained=False, frozen), {n} images of {size} px ({n - nv} train, {nv} valid), bs={a.bs}, "
          f"{torch.get_num_threads()} threads")

    plain0 = plain_epoch(dls)
    def mk():
        set_seed(1); l = vision_learner(dls, resnet18, pretrained=False, train_bn=False, progress=False,
                                         loss_func=nn.CrossEntropyLoss()); l.freeze(); return l
    learn = mk(); learn.fit(1, 1e-3)                               # warm-up (allocations, kernels)
    t = time.perf_counter(); learn.fit(1, 1e-3); naive = time.perf_counter() - t
    print(f"naive Learner epoch:       {naive:8.3f} s")

    learn = mk(); pc = Precompute(); _mem_cache.clear()
    t = time.perf_counter(); learn.fit(1, 1e-3, cbs=pc); first = time.perf_counter() - t
    t = time.perf_counter(); learn.fit(1, 1e-3, cbs=pc); epoch = time.perf_counter() - t
    t = time.perf_counter(); learn.fit(3, 1e-3, cbs=pc); epoch3 = (time.perf_counter() - t) / 3
    epoch = min(epoch, epoch3)
    cache = first - epoch
    print(f"precompute: cache (once):  {cache:8.3f} s")
    print(f"precompute: epoch:         {epoch:8.3f} s   (incl. body/data hashing for the key each fit)")

    plain = min(plain0, plain_epoch(dls))   # measured first and last: the least disturbed of the two
    print(f"plain PyTorch naive epoch: {plain:8.3f} s")
    print(f"ratios: naive/precompute epoch {naive / epoch:.1f}x, plain/precompute epoch {plain / epoch:.1f}x, "
          f"naive/plain {naive / plain:.2f}x, cache/naive epoch {cache / naive:.2f}x")
    ok = naive / epoch >= 10
    print(f"SUMMARY: n={n} size={size} naive={naive:.3f}s precompute_epoch={epoch:.3f}s cache={cache:.3f}s plain={plain:.3f}s "
          f"speedup={naive / epoch:.1f}x target>=10x {'MET' if ok else 'NOT MET'}")

if __name__ == '__main__': main()
