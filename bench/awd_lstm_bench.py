"""Language-model training speed of the AWD-LSTM (embedding, input, hidden, output and weight dropout: DropConnect on the
hidden-to-hidden weights through a functional LSTM call) against a plain stack of `torch.nn.LSTM` layers with no dropout
at all, of the same sizes, with the same tied decoder, data, loss and optimizer, in the same run, measured alternately.
Prints tokens per second of each and their ratio (target: the AWD-LSTM costs <= 1.3x the plain LSTM).
usage: python bench/awd_lstm_bench.py [--tiny] [--vocab N] [--emb N] [--hid N] [--layers N] [--bs N] [--bptt N]
                                      [--steps N] [--repeats N] [--threads N]"""
import argparse, statistics, time, warnings
import torch
from torch import nn
import torch.nn.functional as F
from fastcourse.text.models import AWD_LSTM, get_language_model

class PlainLM(nn.Module):
    "The same sizes as the AWD-LSTM language model (emb -> hid -> ... -> emb, tied decoder), with nn.LSTM and no dropout."
    def __init__(self, vocab: int, emb: int, hid: int, layers: int):
        super().__init__()
        self.encoder = nn.Embedding(vocab, emb, padding_idx=1)
        sizes = [emb] + [hid] * (layers - 1) + [emb]
        self.rnns = nn.ModuleList([nn.LSTM(i, o, batch_first=True) for i, o in zip(sizes[:-1], sizes[1:])])
        self.decoder = nn.Linear(emb, vocab)
        self.decoder.weight = self.encoder.weight
        self.hidden = [None] * layers
    def reset(self): self.hidden = [None] * len(self.rnns)
    def forward(self, x):
        out = self.encoder(x)
        for l, rnn in enumerate(self.rnns):
            out, h = rnn(out, self.hidden[l])
            self.hidden[l] = tuple(t.detach() for t in h)
        return self.decoder(out)

def make_models(a):
    torch.manual_seed(0)
    cfg = dict(emb_sz=a.emb, n_hid=a.hid, n_layers=a.layers)
    return {'AWD-LSTM (weight dropout)': get_language_model(AWD_LSTM, a.vocab, config=cfg),
            'nn.LSTM (no dropout)': PlainLM(a.vocab, a.emb, a.hid, a.layers)}

def train_steps(model, opt, batches) -> float:
    "Seconds to train on `batches` (forward, cross-entropy, backward, AdamW step), the state carried between batches."
    model.train()
    start = time.perf_counter()
    for x, y in batches:
        loss = F.cross_entropy(model(x).view(-1, model_vocab(model)), y.view(-1))
        loss.backward(); opt.step(); opt.zero_grad(set_to_none=True)
    return time.perf_counter() - start

def model_vocab(model) -> int: return model[1].decoder.out_features if isinstance(model, nn.Sequential) else model.decoder.out_features

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--tiny', action='store_true', help='small sizes and few steps, to check the script still works (seconds)')
    ap.add_argument('--vocab', type=int, default=8000); ap.add_argument('--emb', type=int, default=256)
    ap.add_argument('--hid', type=int, default=512); ap.add_argument('--layers', type=int, default=3)
    ap.add_argument('--bs', type=int, default=32); ap.add_argument('--bptt', type=int, default=70)
    ap.add_argument('--steps', type=int, default=5, help='batches per measurement')
    ap.add_argument('--repeats', type=int, default=7, help='measurements per model (alternating); the median is kept')
    ap.add_argument('--threads', type=int, default=1, help='torch threads (1: steadiest on a shared machine)')
    a = ap.parse_args()
    if a.tiny: a.vocab, a.emb, a.hid, a.layers, a.bs, a.bptt, a.steps, a.repeats = 500, 32, 64, 2, 8, 20, 3, 3
    torch.set_num_threads(a.threads)
    models = make_models(a)
    opts = {n: torch.optim.AdamW(m.parameters(), lr=1e-3) for n, m in models.items()}
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randint(0, a.vocab, (a.bs, a.bptt), generator=g), torch.randint(0, a.vocab, (a.bs, a.bptt), generator=g))
               for _ in range(a.steps)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        for n in models: train_steps(models[n], opts[n], batches[:1])   # first-call costs paid
        times, names = {n: [] for n in models}, list(models)
        for r in range(a.repeats):
            for n in (names if r % 2 == 0 else names[::-1]): times[n].append(train_steps(models[n], opts[n], batches))
    n_warn = sum(issubclass(w.category, UserWarning) for w in caught)
    tokens = a.steps * a.bs * a.bptt
    tps = {n: tokens / statistics.median(t) for n, t in times.items()}
    print(f"sizes: vocab {a.vocab}, emb {a.emb}, hid {a.hid}, {a.layers} layers; batches of {a.bs} x {a.bptt} tokens; "
          f"{a.threads} thread(s), {a.repeats} alternating measurements of {a.steps} batches")
    for n, v in tps.items(): print(f"  {n:28s} {v:10,.0f} tokens/s")
    awd, plain = tps['AWD-LSTM (weight dropout)'], tps['nn.LSTM (no dropout)']
    ratio = plain / awd
    print(f"awd_lstm_bench: AWD-LSTM {awd:,.0f} tok/s, nn.LSTM {plain:,.0f} tok/s, cost ratio {ratio:.2f}x "
          f"(target <= 1.3x: {'met' if ratio <= 1.3 else 'MISSED'}), UserWarnings during training: {n_warn}")

if __name__ == '__main__': main()
