"""One rank fails; the whole job must end with an error, not hang: `torchrun --nproc_per_node=2 fail_check.py raise|hang`.
raise: rank 1 raises in the middle of a fit (the launcher sees it exit and ends the others).
hang:  rank 1 stops taking part (sleeps); rank 0's next collective times out after the process group's timeout."""
import os, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import log, make_learner
from fastcourse.callback import Callback
from fastcourse.core import rank_distrib
import fastcourse.distributed

class Fail(Callback):
    def __init__(self, mode): self.mode = mode
    def before_batch(self):
        if rank_distrib() == 1 and self.learn.train_iter == 3:
            if self.mode == 'raise': raise ValueError("rank 1 fails on purpose")
            log("stops taking part"); time.sleep(120)

if __name__ == '__main__':
    mode = sys.argv[1]
    learn = make_learner(4, n_train=256)
    with learn.distrib_ctx(timeout=4.):
        learn.fit(3, 1e-2, cbs=Fail(mode))
    log("finished: the failure was not noticed")
