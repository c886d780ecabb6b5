"""Distributed data parallel on the CPU: one epoch (train + validation) of the demo's small CNN on the built-in shapes,
timed four ways:
  1 process x 2 threads        fastcourse's Learner.fit(1), global batch BS, no DDP
  2 processes x 1 thread       fastcourse's `with learn.distrib_ctx(): learn.fit(1)` (DDP, gloo), BS/2 per process
  plain DDP, 2 x 1 thread      a plain PyTorch DDP script on the same tensors: DistributedSampler + set_epoch, AdamW,
                               loss.item() per batch, validation gathered with all_gather: what a careful script does
  overhead                     fastcourse DDP / plain DDP (target <= 1.05)
and, for reference, 1 process x 1 thread (on a loaded machine two threads can be slower than one).
Both 2-process variants run in the same torchrun launch, alternating, so drifts in machine speed hit both alike; each
timed epoch includes building DDP (once per fit in fastcourse, once per run in a script of one epoch). Reported: the
minimum and the median over the repeats (noise from other processes only ever adds time: the minimum is the steadier
figure on a shared machine), and the overhead as the median of the per-repeat ratios (runs next to each other share the
machine's state), in wall time and in rank 0's CPU time (which waiting for a busy machine does not inflate).
On a machine with GPUs it also reports images/s per GPU on 1 and on all GPUs (NCCL).
usage: python bench/ddp_bench.py [--tiny] [--repeats N]
       (it launches itself with torchrun for the 2-process runs: --worker is internal)"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np
import torch
from torch import nn
import torch.nn.functional as F
import torch.distributed as dist
from PIL import Image
from fastcourse.core import set_seed
from fastcourse.datasets import make_shapes
from fastcourse.data import DataLoaders
from fastcourse.learner import Learner
from fastcourse.callback import accuracy
from fastcourse.demo import shapes_cnn, three_groups

BS, LR = 64, 1e-3

def shapes_tensors(n_per_class: int, size: int, out: Path) -> Path:
    "The built-in shapes, decoded once into float tensors (train and valid) saved at `out`."
    path = make_shapes(n_per_class=n_per_class, size=size, seed=42)
    vocab = sorted(p.name for p in (path / 'train').iterdir())
    def load(split):
        files = sorted((path / split).glob('*/*.jpg'))
        x = torch.from_numpy(np.stack([np.asarray(Image.open(f).convert('RGB')) for f in files])).permute(0, 3, 1, 2)
        return x.float().div_(255), torch.tensor([vocab.index(f.parent.name) for f in files])
    torch.save({'train': load('train'), 'valid': load('valid'), 'c': len(vocab)}, out)
    return out

def fastcourse_learner(data: dict, bs: int, device='cpu') -> Learner:
    set_seed(0)
    dls = DataLoaders.from_tensors(*data['train'], *data['valid'], bs=bs, device=device)
    return Learner(dls, shapes_cnn(data['c']), nn.CrossEntropyLoss(), lr=LR, metrics=accuracy, splitter=three_groups,
                   progress=False, device=device)

def plain_epoch(data: dict, bs: int, epoch: int, device) -> float:
    "One epoch of a plain DDP script (model and DDP built inside: a script of one epoch does that once); returns accuracy."
    set_seed(0)
    rank, world = dist.get_rank(), dist.get_world_size()
    model = shapes_cnn(data['c']).to(device)
    ddp = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == 'cuda' else None)
    opt = torch.optim.AdamW(model.parameters(), lr=LR)
    (x, y), (xv, yv) = data['train'], data['valid']
    sampler = torch.utils.data.DistributedSampler(range(len(x)), num_replicas=world, rank=rank, shuffle=True)
    sampler.set_epoch(epoch)
    idxs = torch.tensor(list(sampler))
    idxs = idxs[:len(idxs) // bs * bs]   # drop the last incomplete batch, as the Learner's shuffled training loader does
    ddp.train()
    for i in range(0, len(idxs), bs):
        b = idxs[i:i + bs]
        loss = F.cross_entropy(ddp(x[b].to(device)), y[b].to(device))
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
        loss.item()
    vsampler = torch.utils.data.DistributedSampler(range(len(xv)), num_replicas=world, rank=rank, shuffle=False)
    vidx = torch.tensor(list(vsampler))
    ddp.eval(); preds = []
    with torch.no_grad():
        for i in range(0, len(vidx), bs): preds.append(ddp(xv[vidx[i:i + bs]].to(device)))
    p = torch.cat(preds); parts = [torch.empty_like(p) for _ in range(world)]
    dist.all_gather(parts, p)
    allp = torch.stack(parts, 1).reshape(-1, p.shape[-1])[:len(xv)]
    return float((allp.argmax(-1).cpu() == yv).float().mean())

def worker(args):
    "Run under torchrun: alternate fastcourse DDP and plain DDP epochs; rank 0 writes the times."
    import fastcourse.distributed  # noqa: F401  (learn.distrib_ctx)
    from fastcourse.distributed import setup_distrib
    torch.set_num_threads(1)
    gpu = setup_distrib(timeout=300)
    device = torch.device('cuda', gpu) if gpu is not None else torch.device('cpu')
    data = torch.load(args.data)
    world = dist.get_world_size()
    bs = args.bs // world if args.split_batch else args.bs
    learn = fastcourse_learner(data, bs, device)
    times, cpu = {'fastcourse': [], 'plain': []}, {'fastcourse': [], 'plain': []}
    with learn.distrib_ctx(timeout=300):
        learn.fit(1)                                   # warm-up (not timed)
        plain_epoch(data, bs, 0, device)
        for r in range(args.repeats):
            for kind in (('fastcourse', 'plain') if r % 2 == 0 else ('plain', 'fastcourse')):
                dist.barrier(); start, start_cpu = time.perf_counter(), time.process_time()
                if kind == 'fastcourse': learn.fit(1); acc = learn.recorder.values[-1][2]
                else: acc = plain_epoch(data, bs, r + 1, device)
                cpu[kind].append(time.process_time() - start_cpu)
                dist.barrier(); times[kind].append(time.perf_counter() - start)
    if dist.get_rank() == 0:
        Path(args.out).write_text(json.dumps({'times': times, 'cpu': cpu, 'world': world, 'bs': bs, 'acc': acc}))

def torchrun(args, nproc: int, data: Path, split_batch: bool = True) -> dict:
    out = Path(tempfile.mkdtemp()) / 'times.json'
    from fastcourse.distributed import free_port
    cmd = [sys.executable, '-m', 'torch.distributed.run', f'--nproc_per_node={nproc}', '--master-addr=127.0.0.1',
           f'--master-port={free_port()}', __file__, '--worker', '--data', str(data), '--out', str(out),
           '--repeats', str(args.repeats), '--bs', str(args.bs)] + (['--split-batch'] if split_batch else [])
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': os.pathsep.join([str(Path(__file__).parent.parent), os.environ.get('PYTHONPATH', '')])}
    subprocess.run(cmd, check=True, timeout=args.timeout, env=env, stdout=subprocess.DEVNULL if args.tiny else None)
    return json.loads(out.read_text())

def fmt(ts): return f"{min(ts):6.2f} s (median {statistics.median(ts):.2f})"

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--tiny', action='store_true', help='a small data set and one repeat, for CI: prints one summary line')
    ap.add_argument('--repeats', type=int, default=None)
    ap.add_argument('--bs', type=int, default=BS, help='the global batch size')
    ap.add_argument('--timeout', type=float, default=600)
    ap.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    ap.add_argument('--split-batch', action='store_true', help=argparse.SUPPRESS)
    ap.add_argument('--data', help=argparse.SUPPRESS); ap.add_argument('--out', help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.repeats is None: args.repeats = 1 if args.tiny else 7
    if args.worker: return worker(args)
    n_per_class, size = (40, 32) if args.tiny else (250, 32)
    data_file = shapes_tensors(n_per_class, size, Path(tempfile.mkdtemp()) / 'shapes.pt')
    data = torch.load(data_file)
    n_train = len(data['train'][0])

    def one_process(threads):
        torch.set_num_threads(threads)
        learn = fastcourse_learner(data, args.bs)
        learn.fit(1)                                        # warm-up
        ts = []
        for _ in range(args.repeats):
            start = time.perf_counter(); learn.fit(1); ts.append(time.perf_counter() - start)
        return ts
    one = one_process(2)                                    # 1 process x 2 threads
    one_1 = one_process(1) if not args.tiny else None       # for reference: 1 process x 1 thread
    two = torchrun(args, 2, data_file)                      # 2 processes x 1 thread: fastcourse and plain, alternating
    fc, plain = two['times']['fastcourse'], two['times']['plain']
    ratio_min = min(fc) / min(plain)
    ratio = statistics.median([a / b for a, b in zip(fc, plain)])   # runs next to each other share the machine's state
    cfc, cplain = two['cpu']['fastcourse'], two['cpu']['plain']
    ratio_cpu = statistics.median([a / b for a, b in zip(cfc, cplain)])
    if not args.tiny:
        print(f"one epoch of shapes_cnn on {n_train} shapes of {size}px (+ validation), global batch {args.bs}, "
              f"{args.repeats} repeats; torch {torch.__version__}, {os.cpu_count()} CPUs")
        print(f"  1 process  x 2 threads, fastcourse       {fmt(one)}")
        print(f"  1 process  x 1 thread,  fastcourse       {fmt(one_1)}   (reference)")
        print(f"  2 processes x 1 thread, fastcourse DDP   {fmt(fc)}   speed-up over 1 process {min(one) / min(fc):.2f}x")
        print(f"  2 processes x 1 thread, plain DDP        {fmt(plain)}")
        print(f"  fastcourse DDP / plain DDP               {ratio:.3f}x wall (median of the per-repeat ratios; of the minimums "
              f"{ratio_min:.3f}x), {ratio_cpu:.3f}x CPU time of rank 0; target <= 1.05")
        if torch.cuda.is_available():
            n = torch.cuda.device_count()
            for k in sorted({1, n}):
                r = torchrun(args, k, data_file, split_batch=False)   # bs per GPU = --bs
                ips = n_train / k / min(r['times']['fastcourse'])
                print(f"  {k} GPU(s), fastcourse DDP: {ips:,.0f} images/s per GPU (batch {args.bs} per GPU)")
    print(f"ddp_bench: 1x2 threads {min(one):.2f} s, 2x1 fastcourse DDP {min(fc):.2f} s, 2x1 plain DDP {min(plain):.2f} s, "
          f"overhead {ratio:.3f}x wall, {ratio_cpu:.3f}x CPU (target <= 1.05){'' if min(ratio, ratio_cpu) <= 1.05 else ' ABOVE TARGET'}")

if __name__ == '__main__': main()
