"Small learners and helpers shared by the distributed tests (run by torchrun, notebook_launcher, or plain python)."
import os, sys, time, torch
from torch import nn
from fastcourse.core import set_seed, rank_distrib
from fastcourse.data import DataLoaders
from fastcourse.learner import Learner

def log(*args):
    print(f"[rank {rank_distrib()}]", *args, flush=True)

def tensors(n: int, n_in: int = 6, n_classes: int = 3, seed: int = 0):
    "A fixed classification problem: the same tensors on every process."
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, n_in, generator=g)
    y = (x[:, :n_classes] + 0.3 * torch.randn(n, n_classes, generator=g)).argmax(1)
    return x, y

def mlp(n_in: int = 6, n_classes: int = 3, seed: int = 0, unused: bool = False) -> nn.Module:
    "Two layer groups, no BatchNorm (a 2-process run then equals a 1-process run with the global batch)."
    set_seed(seed)
    m = nn.Sequential(nn.Sequential(nn.Linear(n_in, 16), nn.ReLU()), nn.Linear(16, n_classes))
    return WithUnused(m) if unused else m

class WithUnused(nn.Module):
    "A model with a layer its forward never calls."
    def __init__(self, m):
        super().__init__()
        self.m, self.extra = m, nn.Linear(3, 3)
    def forward(self, x): return self.m(x)

class BNNet(nn.Module):
    "With BatchNorm, so there are buffers to keep equal."
    def __init__(self, n_in=6, n_classes=3):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_in, 16), nn.BatchNorm1d(16), nn.ReLU())
        self.head = nn.Linear(16, n_classes)
    def forward(self, x): return self.head(self.body(x))

def make_learner(bs: int, n_train: int = 64, n_valid: int = 37, val_bs=None, shuffle: bool = False, model=None, **kwargs):
    xt, yt = tensors(n_train, seed=1)
    xv, yv = tensors(n_valid, seed=2)
    dls = DataLoaders.from_tensors(xt, yt, xv, yv, bs=bs, val_bs=val_bs, shuffle=shuffle, drop_last=False, device='cpu')
    return Learner(dls, model if model is not None else mlp(), loss_func=nn.CrossEntropyLoss(), progress=False, **kwargs)

def state(learn) -> dict:
    return {k: v.detach().clone() for k, v in learn.model.state_dict().items()}

def all_equal_across_ranks(sd: dict) -> bool:
    "Whether every process holds bitwise the same tensors."
    import torch.distributed as dist
    flat = torch.cat([v.reshape(-1).double() for v in sd.values()])
    parts = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, flat)
    return all(torch.equal(parts[0], p) for p in parts[1:])
