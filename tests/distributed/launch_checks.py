"""The distributed checks through Accelerate's notebook_launcher (as in a notebook on Kaggle's 2 GPUs), on 2 CPU processes:
`python tests/distributed/launch_checks.py [check,check,...]`. A failing rank makes the launcher raise: exit code 1."""
import os, sys, tempfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fastcourse.distributed import notebook_launcher
from checks import run_checks

if __name__ == '__main__':
    names = sys.argv[1].split(',') if len(sys.argv) > 1 else None
    tmp = tempfile.mkdtemp(prefix='fc_launch_')
    notebook_launcher(run_checks, args=(tmp, names), num_processes=2)   # a free port; raises if any process fails
    print("notebook_launcher: all checks passed", flush=True)
