"""The distributed checks, run on every process: `torchrun --nproc_per_node=2 tests/distributed/checks.py`,
or `python tests/distributed/launch_checks.py` (the same through accelerate's notebook_launcher).
Each check raises AssertionError on failure; the process then exits with an error, and the launcher ends the job."""
import os, sys, math, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch
import torch.distributed as dist
from torch import nn
from common import log, make_learner, mlp, BNNet, state, all_equal_across_ranks
import fastcourse.saving
from fastcourse.core import rank_distrib, num_distrib, distrib_barrier
from fastcourse.callback import accuracy, AccumMetric, ProgressCB, Callback, CancelTrainException
from fastcourse.distributed import DistributedDL, setup_distrib, rank0_first
from pathlib import Path
import fastcourse.distributed  # adds learn.distrib_ctx

TIMEOUT = 60.
B = 8           # batch per process; the 1-process reference uses B * world

def check_identical_weights():
    "After fit (shuffled, BatchNorm, one cycle), every process holds bitwise the same weights and buffers."
    learn = make_learner(B, shuffle=True, model=BNNet())
    with learn.distrib_ctx(timeout=TIMEOUT):
        assert isinstance(learn.dls.train, DistributedDL), learn.dls.train
        assert len(learn.dls.train) == 4, len(learn.dls.train)   # 64 items / 2 processes / 8
        learn.fit_one_cycle(2, 1e-2)
        assert not isinstance(learn.model, nn.parallel.DistributedDataParallel)   # unwrapped after each fit
        assert all_equal_across_ranks(state(learn)), "weights differ across processes"
    assert not isinstance(learn.dls.train, DistributedDL)   # loaders back after the context

def check_shuffle():
    "The shards cover the set once per epoch; the order differs per epoch and is the same plan on every process."
    learn = make_learner(B, shuffle=True)
    with learn.distrib_ctx(timeout=TIMEOUT):
        dl = learn.dls.train
        dl.sampler.seed = 7
        orders = []
        for epoch in range(2):
            dl.set_epoch(epoch)
            idx = torch.tensor(list(dl.sampler))
            parts = [torch.empty_like(idx) for _ in range(num_distrib())]
            dist.all_gather(parts, idx)
            allidx = torch.cat(parts)
            assert sorted(allidx.tolist()) == list(range(64)), "the shards do not cover the set exactly once"
            orders.append(idx)
        assert not torch.equal(orders[0], orders[1]), "the same order in two epochs"

def check_same_as_one_process():
    "2 processes x batch B reach the weights of 1 process x batch 2B (no BatchNorm, same seed, in order)."
    world = num_distrib()
    ref = make_learner(B * world, shuffle=False, metrics=[accuracy])
    ref.fit(2, 1e-2)
    learn = make_learner(B, shuffle=False, metrics=[accuracy])
    with learn.distrib_ctx(timeout=TIMEOUT):
        learn.fit(2, 1e-2)
    for k, v in state(ref).items():
        assert torch.allclose(v, state(learn)[k], atol=1e-5), f"{k} differs from the 1-process run"
    # the table (train_loss, valid_loss, accuracy) is the same on each process, and that of the 1-process run
    values = torch.tensor(learn.recorder.values, dtype=torch.float64)
    assert all_equal_across_ranks({'v': values}), "the processes' tables differ"
    assert torch.allclose(values, torch.tensor(ref.recorder.values, dtype=torch.float64), atol=1e-5), (values, ref.recorder.values)

class ValidOnly(Callback):
    "Skip training: a fit that only validates (the metrics of the model as it is)."
    def before_train(self): raise CancelTrainException()

def check_validation_metrics():
    "Metrics over the whole validation set (37 items: the shards are padded) equal the 1-process ones; get_preds in order."
    rmse_pred = AccumMetric(lambda p, t: ((p.float() - t.float()) ** 2).mean().sqrt(), dim_argmax=-1, name='rmse_cls')
    learn = make_learner(B, val_bs=5, metrics=[accuracy, rmse_pred])
    with learn.distrib_ctx(timeout=TIMEOUT):
        learn.fit(1, 1e-2)
        dist_vals = learn.recorder.values[-1][1:]
        learn.metrics = [accuracy]
        preds, targs = learn.get_preds()
        loss_acc = learn.validate()
    plain = make_learner(10, val_bs=10, model=learn.model, metrics=[accuracy, rmse_pred])   # the same model, one process
    plain.fit(1, cbs=ValidOnly())
    ref = plain.recorder.values[-1][1:]
    plain.metrics = [accuracy]
    ref_preds, ref_targs = plain.get_preds()
    assert len(preds) == 37 and torch.equal(targs, ref_targs), (len(preds), targs[:8], ref_targs[:8])
    assert torch.allclose(preds, ref_preds, atol=1e-6)
    assert all(math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6) for a, b in zip(dist_vals, ref)), (dist_vals, ref)
    assert all(math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6) for a, b in zip(loss_acc, plain.validate())), loss_acc

def check_dataset_loader():
    "Loaders built on torch's DataLoader (DatasetLoader, as the vision data uses): sharded through their sampler."
    from torch.utils.data import TensorDataset
    from fastcourse.data import DataLoaders, DatasetLoader
    from common import tensors
    from fastcourse.learner import Learner
    def learner(bs, val_bs):
        (x, y), (xv, yv) = tensors(64, seed=1), tensors(37, seed=2)
        dls = DataLoaders(DatasetLoader(TensorDataset(x, y), bs=bs, shuffle=False), DatasetLoader(TensorDataset(xv, yv), bs=val_bs), device='cpu')
        return Learner(dls, mlp(), loss_func=nn.CrossEntropyLoss(), progress=False, metrics=[accuracy])
    world = num_distrib()
    ref = learner(B * world, 5 * world); ref.fit(1, 1e-2)
    learn = learner(B, 5)
    with learn.distrib_ctx(timeout=TIMEOUT):
        assert isinstance(learn.dls.train, DistributedDL) and learn.dls.train._torch is not None
        learn.fit(1, 1e-2)
        preds, _ = learn.get_preds()
    for k, v in state(ref).items(): assert torch.allclose(v, state(learn)[k], atol=1e-5), k
    assert torch.allclose(torch.tensor(learn.recorder.values), torch.tensor(ref.recorder.values), atol=1e-5)
    assert len(preds) == 37 and torch.allclose(preds, ref.get_preds()[0], atol=1e-6)

def check_save(tmp):
    "learn.save writes one file, from rank 0; every process can load it right after."
    calls = []
    real = fastcourse.saving.atomic_save
    fastcourse.saving.atomic_save = lambda *a, **k: (calls.append(a[1]), real(*a, **k))[1]
    try:
        learn = make_learner(B, path=tmp)
        with learn.distrib_ctx(timeout=TIMEOUT):
            learn.fit(1, 1e-2)
            f = learn.save('dist_model')
            learn.load('dist_model')
            learn.export('dist_export.pkl')
    finally: fastcourse.saving.atomic_save = real
    assert len(calls) == (2 if rank_distrib() == 0 else 0), calls
    sd = torch.load(f, weights_only=True)['model']
    assert all(not k.startswith('module.') for k in sd), list(sd)   # plain weights, not DDP's
    assert sorted(p.name for p in f.parent.iterdir()) == ['dist_model.pth'], list(f.parent.iterdir())
    distrib_barrier()   # export writes on rank 0 and returns at once elsewhere, as in fastai
    exported = fastcourse.saving.load_learner(f.parent.parent / 'dist_export.pkl')
    assert not isinstance(exported.dls.train, DistributedDL)

def check_lr_find():
    "lr_find runs in lockstep (same curve, same stop on every process) and puts every process's state back."
    learn = make_learner(B, shuffle=True, model=BNNet())
    with learn.distrib_ctx(timeout=TIMEOUT):
        learn.fit(1, 1e-3)
        before, opt_before = state(learn), learn.opt.state_dict()
        res = learn.lr_find(num_it=40, show_plot=False)
        after = state(learn)
        assert all(torch.equal(before[k], after[k]) for k in before), "lr_find did not restore the weights"
        assert opt_before['state'].keys() == learn.opt.state_dict()['state'].keys()
        assert all_equal_across_ranks({'l': torch.tensor(res.losses)}), "the lr_find curves differ across processes"
        learn.fit(1, 1e-3)   # training goes on as if lr_find had not run
        assert all_equal_across_ranks(state(learn))

def check_freeze_unfreeze():
    "A frozen fit then an unfrozen fit in one run: DDP is rebuilt for each fit."
    learn = make_learner(B, shuffle=True)
    with learn.distrib_ctx(timeout=TIMEOUT):
        learn.freeze()
        first = state(learn)['0.0.weight']
        learn.fit(1, 1e-2)
        assert torch.equal(first, state(learn)['0.0.weight']), "a frozen group changed"
        learn.unfreeze()
        learn.fit_one_cycle(1, slice(1e-3, 1e-2))
        assert not torch.equal(first, state(learn)['0.0.weight']), "the unfrozen group did not train"
        assert all_equal_across_ranks(state(learn))

def check_mixed_precision():
    "bf16 mixed precision under DDP: identical weights after fit."
    learn = make_learner(B, shuffle=True, model=BNNet()).to_bf16()
    with learn.distrib_ctx(timeout=TIMEOUT):
        learn.fit(1, 1e-2)
        assert all_equal_across_ranks(state(learn))

def check_grad_accumulation():
    "GradientAccumulation under DDP: same weights as the 1-process run with the same global batch, every process equal."
    from fastcourse.everyday import GradientAccumulation
    world = num_distrib()
    ref = make_learner(B * world * 2)   # one step per 2 batches of B per process = a global batch of 4B
    ref.fit(1, 1e-2)
    learn = make_learner(B, cbs=GradientAccumulation(2 * B))
    with learn.distrib_ctx(timeout=TIMEOUT):
        learn.fit(1, 1e-2)
    assert all_equal_across_ranks(state(learn))
    for k, v in state(ref).items():
        assert torch.allclose(v, state(learn)[k], atol=1e-5), f"{k} differs from the 1-process run with the global batch"

def check_unused_parameters():
    "A parameter the model never uses: a clear message; with find_unused_parameters=True it trains."
    learn = make_learner(B, model=mlp(unused=True))
    try:
        with learn.distrib_ctx(timeout=TIMEOUT): learn.fit(1, 1e-2)
    except RuntimeError as e:
        assert 'find_unused_parameters=True' in str(e) and 'extra.weight' in str(e), str(e)
    else: raise AssertionError("no error for a parameter that gets no gradient")
    learn = make_learner(B, model=mlp(unused=True))
    with learn.distrib_ctx(timeout=TIMEOUT, find_unused_parameters=True):
        learn.fit(1, 1e-2)
        assert all_equal_across_ranks(state(learn))

def check_rank0_only():
    "Only rank 0 shows progress; the callbacks come back after the context."
    learn = make_learner(B)
    learn.progress = True
    with learn.distrib_ctx(timeout=TIMEOUT):
        assert learn.progress == (rank_distrib() == 0)
    assert learn.progress

def check_rank0_first(tmp):
    "rank0_first makes the others wait for rank 0, even when called before the processes have joined a group (run first: the other launchers' runs start with check_identical_weights, which lets distrib_ctx make the group)."
    assert not dist.is_initialized(), "this check must run while no process group exists"
    Path(tmp).mkdir(parents=True, exist_ok=True)
    f = Path(tmp)/'rank0_first.txt'
    def make():
        if rank_distrib() == 0: time.sleep(0.5); f.write_text('made by rank 0')
        return f.exists()
    assert rank0_first(make), f"rank {rank_distrib()} ran before rank 0 had finished"

CHECKS = [check_rank0_first, check_identical_weights, check_shuffle, check_same_as_one_process, check_validation_metrics, check_lr_find,
          check_freeze_unfreeze, check_mixed_precision, check_dataset_loader, check_grad_accumulation, check_unused_parameters, check_rank0_only]

def run_checks(tmp: str, names=None) -> int:
    "Run the checks (all, or those named); returns how many ran."
    torch.set_num_threads(1)
    checks = [c for c in CHECKS + [check_save] if names is None or c.__name__ in names]
    for i, c in enumerate(checks):
        if i == 1: setup_distrib(timeout=TIMEOUT)   # the first check sets up the group itself (rank0_first, or distrib_ctx)
        t = time.time()
        c(tmp) if c in (check_save, check_rank0_first) else c()
        log(f"ok {c.__name__} ({time.time() - t:.1f} s)")
    return len(checks)

if __name__ == "__main__":
    import faulthandler; faulthandler.dump_traceback_later(float(os.environ.get("FC_DUMP_AFTER", 1e9)), exit=False)
    import tempfile
    tmp = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
    names = sys.argv[2].split(',') if len(sys.argv) > 2 else None
    n = run_checks(tmp, names)
    log(f"all {n} checks passed")
