"""Tokenisation throughput, in MB of text per second per core, on the built-in reviews scaled up: one process (rules and
regex apart, then together), the worker pool of `tokenize_texts`, and a second call read from the token cache.
Target: >= 1 MB/s per core. `python bench/text_tokenize_bench.py [--tiny] [--mb 20] [--workers N]`"""
import argparse, os, tempfile, time
import numpy as np

def corpus(mb: float, seed: int = 0) -> list[str]:
    "Reviews from `make_review` until there are `mb` megabytes of text (UTF-8)."
    from fastcourse.text.data import make_review
    rng, texts, size = np.random.default_rng(seed), [], 0
    while size < mb * 1e6:
        t = make_review(rng, int(rng.integers(2)), long=rng.random() < 0.02)
        texts.append(t); size += len(t.encode())
    return texts

def best_of(f, n: int = 3) -> float:
    "The fastest of `n` runs of `f()`, in seconds (the least disturbed by other processes)."
    ts = []
    for _ in range(n):
        t = time.perf_counter(); f(); ts.append(time.perf_counter() - t)
    return min(ts)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tiny', action='store_true', help='0.2 MB, one run each: a quick check that it runs')
    ap.add_argument('--mb', type=float, default=20, help='megabytes of text')
    ap.add_argument('--workers', type=int, default=None, help='worker processes for the pool (default: the cores)')
    a = ap.parse_args()
    os.environ.setdefault('FASTCOURSE_HOME', tempfile.mkdtemp())   # the token cache of this run stays out of ~/.fastcourse
    from fastcourse.text.core import Tokenizer, WordTokenizer, text_proc_rules, tokenize_texts
    import fastcourse.text.core as text_core
    mb, runs = (0.2, 1) if a.tiny else (a.mb, 3)
    texts = corpus(mb)
    size = sum(len(t.encode()) for t in texts) / 1e6
    n_workers = a.workers or text_core._default_workers()
    print(f"{len(texts)} reviews, {size:.1f} MB of text; {os.cpu_count()} cores, pool of {n_workers} workers")

    def rules_only():
        for t in texts:
            for r in text_proc_rules: t = r(t)
    regex = WordTokenizer()
    rule_s = best_of(rules_only, runs)
    regex_s = best_of(lambda: [regex.tokenize(t) for t in texts], runs)
    tok = Tokenizer()
    single_s = best_of(lambda: [tok(t) for t in texts], runs)
    n_tokens = sum(len(tok(t)) for t in texts[:2000]) / sum(len(t.encode()) for t in texts[:2000]) * size * 1e6
    print(f"rules only:            {size / rule_s:6.2f} MB/s")
    print(f"regex tokenizer only:  {size / regex_s:6.2f} MB/s")
    print(f"one process (both):    {size / single_s:6.2f} MB/s per core   ({n_tokens / single_s / 1e6:.2f} M tokens/s)")

    old = text_core.PARALLEL_MIN_CHARS
    text_core.PARALLEL_MIN_CHARS = 0   # the pool even for --tiny
    try: pool_s = best_of(lambda: tokenize_texts(texts, n_workers=n_workers, progress=False), runs)
    finally: text_core.PARALLEL_MIN_CHARS = old
    print(f"pool of {n_workers} workers:      {size / pool_s:6.2f} MB/s in all, {size / pool_s / n_workers:.2f} MB/s per core "
          f"(speed-up {single_s / pool_s:.2f}x; the cores are shared with whatever else runs)")

    tokenize_texts(texts, n_workers=n_workers, progress=False, cache=True)   # fills the cache
    cached_s = best_of(lambda: tokenize_texts(texts, n_workers=n_workers, progress=False, cache=True), runs)
    print(f"from the cache:        {size / cached_s:6.2f} MB/s ({cached_s:.2f} s, hashing the texts included)")
    per_core = size / single_s
    print(f"SUMMARY: mb={size:.1f} single={per_core:.2f}MB/s/core pool{n_workers}={size / pool_s:.2f}MB/s "
          f"({size / pool_s / n_workers:.2f}/core) cached={size / cached_s:.1f}MB/s target>=1MB/s/core "
          f"{'PASS' if per_core >= 1 else 'FAIL'}")

if __name__ == '__main__': main()
