"""Bad launches get clear errors, fast (one process, no launcher): `python tests/distributed/errors_check.py`."""
import os, socket, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import make_learner
import fastcourse.distributed as fd

def env(**kw):
    for k in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'): os.environ.pop(k, None)
    os.environ.update({k: str(v) for k, v in kw.items()})

def expect(f, exc, *contains):
    t = time.time()
    try: f()
    except exc as e:
        for c in contains: assert c in str(e), f"{c!r} not in: {e}"
        print(f"ok: {type(e).__name__} in {time.time() - t:.1f} s: {str(e)[:150]}", flush=True)
        return
    raise AssertionError(f"no {exc.__name__} raised")

def fit_in_ctx(timeout=3.):
    learn = make_learner(8)
    with learn.distrib_ctx(timeout=timeout): learn.fit(1)

# one process without a launcher: distrib_ctx changes nothing
env()
learn = make_learner(8)
with learn.distrib_ctx():
    assert not isinstance(learn.dls.train, fd.DistributedDL) and not any(isinstance(c, fd.DistributedTrainer) for c in learn.cbs)
    learn.fit(1)
print("ok: no launcher, no change", flush=True)

env(RANK=2, WORLD_SIZE=2, MASTER_ADDR='127.0.0.1', MASTER_PORT=fd.free_port())
expect(fit_in_ctx, ValueError, 'RANK=2 does not fit WORLD_SIZE=2')
env(RANK=0, WORLD_SIZE='two')
expect(fit_in_ctx, ValueError, "WORLD_SIZE='two' is not a whole number")
env(RANK=0, WORLD_SIZE=2)
expect(fit_in_ctx, ValueError, 'MASTER_ADDR and MASTER_PORT not set')

# the port is taken by another program
with socket.socket() as s:
    s.bind(('127.0.0.1', 0)); s.listen()
    env(RANK=0, WORLD_SIZE=2, MASTER_ADDR='127.0.0.1', MASTER_PORT=s.getsockname()[1])
    expect(fit_in_ctx, RuntimeError, f"port {s.getsockname()[1]} on 127.0.0.1 is in use")

# WORLD_SIZE says 2 but only this process came: it waits `timeout` seconds, then says why
env(RANK=0, WORLD_SIZE=2, MASTER_ADDR='127.0.0.1', MASTER_PORT=fd.free_port())
expect(fit_in_ctx, RuntimeError, 'for all WORLD_SIZE=2 processes to join')
env()

# without accelerate: the module imports, the launcher says what to install
code = ("import sys; sys.modules['accelerate'] = None\n"
        "import fastcourse.distributed as fd\n"
        "try: fd.notebook_launcher(print, num_processes=2)\n"
        "except ImportError as e: print(e)\n")
out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120)
assert "pip install 'fastcourse[distributed]'" in out.stdout, (out.stdout, out.stderr)
print("ok: without accelerate:", out.stdout.strip(), flush=True)
print("all error checks passed")
