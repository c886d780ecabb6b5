"""Drive tests/browser/widgets_demo.ipynb in JupyterLab with Chromium (Playwright, sync API) and check what happens:
real mouse drags, clicks and key presses on the widgets; the kernel's state compared with what the page shows; the
plots compared before and after (down to the marker's pixel column); the key-to-image latency; no value echo loops.
Started by tests/browser/run.sh, which owns the JupyterLab server. Exit status 0 when every check passed."""
import argparse, html, io, json, math, re, statistics, sys, tempfile, time, traceback
from pathlib import Path
import numpy as np
from PIL import Image
from playwright.sync_api import sync_playwright

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
JS_KERNEL_IDLE = """() => { const s = window.__fcPanel && __fcPanel.sessionContext.session;
  return !!(s && s.kernel && s.kernel.status === 'idle'); }"""
# run code in the notebook's kernel from the page: it is queued after every widget message the page has sent so far
JS_EXECUTE = """async (code) => {
  const fut = __fcPanel.sessionContext.session.kernel.requestExecute({code, silent: false, store_history: false});
  let out = '', err = null;
  fut.onIOPub = (msg) => { const t = msg.header.msg_type;
    if (t === 'stream') out += msg.content.text;
    if (t === 'error') err = msg.content.ename + ': ' + msg.content.evalue; };
  await fut.done;
  return {out, err}; }"""
JS_CELL_ERRORS = """() => { const cells = __fcPanel.content.model.cells; const res = [];
  for (let i = 0; i < cells.length; i++) { const c = cells.get(i);
    if (c.type !== 'code') continue;
    for (const o of c.outputs.toJSON()) if (o.output_type === 'error') res.push([i, o.ename, o.evalue]); }
  return res; }"""
# record, in the page's clock, every keydown, every change of the src of the first <img> matching `sel`, and when
# each new image is decoded (ready to paint)
JS_WATCH = """(sel) => { const img = document.querySelector(sel);
  window.__fcSrc = []; window.__fcDecoded = []; window.__fcKeys = [];
  new MutationObserver(() => { const i = __fcSrc.push(performance.now()) - 1;
      img.decode().then(() => { __fcDecoded[i] = performance.now(); }, () => { __fcDecoded[i] = NaN; }); })
    .observe(img, {attributes: true, attributeFilter: ['src']});
  document.addEventListener('keydown', () => __fcKeys.push(performance.now()), true); }"""
# the images at or inside an element, each decoded (a screenshot right after a src change could catch the old picture)
JS_IMGS_DECODED = """async (e) => { const imgs = e.tagName === 'IMG' ? [e] : [...e.querySelectorAll('img')];
  await Promise.all(imgs.map(i => i.src ? i.decode().catch(() => null) : null)); return true; }"""
# SHA-256 of what the first <img> matching `sel` shows (its blob: or data: src, fetched in the page), as hex
JS_IMG_SHA256 = """async (sel) => { const img = document.querySelector(sel);
  const buf = await (await fetch(img.src)).arrayBuffer();
  return [...new Uint8Array(await crypto.subtle.digest('SHA-256', buf))].map(b => b.toString(16).padStart(2, '0')).join(''); }"""
C3 = (214, 39, 40)   # matplotlib's 'C3' red: the LR picker's marker and its dashed vertical line
T0 = time.monotonic()


def log(msg): print(f"[drive {time.monotonic() - T0:6.1f}s] {msg}", flush=True)


class Checks:
    "Pass/fail lines for the summary; a failing check does not stop the run."
    def __init__(self): self.lines, self.failed = [], 0
    def __call__(self, ok, what: str) -> bool:
        ok = bool(ok)
        self.lines.append(f"  [{'ok' if ok else 'FAIL'}] {what}")
        print(self.lines[-1], flush=True)
        self.failed += not ok
        return ok


class Page:
    "The JupyterLab page with the notebook open, and the kernel behind it."
    def __init__(self, page, out: Path): self.page, self.out = page, out

    def settle(self, quiet_ms: int = 400, timeout_s: float = 30):
        "Wait until the kernel has been idle `quiet_ms` in a row (the page sends throttled widget messages after idle)."
        end, since = time.monotonic() + timeout_s, None
        while time.monotonic() < end:
            if self.page.evaluate(JS_KERNEL_IDLE):
                since = since or time.monotonic()
                if (time.monotonic() - since) * 1000 >= quiet_ms: return
            else: since = None
            time.sleep(0.05)
        raise TimeoutError(f"the kernel did not settle to idle within {timeout_s} s")

    def kernel(self, code: str) -> str:
        "Run `code` in the kernel; return its stdout; raise on a kernel-side error."
        r = self.page.evaluate(JS_EXECUTE, code)
        if r['err']: raise RuntimeError(f"kernel error running {code[:60]!r}: {r['err']}")
        return r['out']

    def state(self, name: str) -> dict:
        "Settle, then have the kernel write `fc_browser_state()` (defined by the notebook) to OUT/name.json and read it."
        self.settle()
        path = self.out / f"{name}.json"
        self.kernel(f"import json as _j; _j.dump(fc_browser_state(), open({str(path)!r}, 'w'), indent=1)")
        return json.loads(path.read_text())

    def text(self, sel: str) -> str:
        return self.page.locator(sel).first.inner_text()

    def shot(self, sel: str, name: str) -> Image.Image:
        "Screenshot the first element matching `sel` to OUT/name.png and return it as an RGB image."
        loc = self.page.locator(sel).first
        loc.scroll_into_view_if_needed()
        self.decoded(sel)
        return Image.open(io.BytesIO(loc.screenshot(path=str(self.out / f"{name}.png")))).convert('RGB')

    def decoded(self, sel: str) -> None:
        "Wait until every <img> in (or at) the first element matching `sel` has decoded its current src, ready to paint."
        self.page.locator(sel).first.evaluate(JS_IMGS_DECODED)

    def src(self, sel: str) -> str:
        return self.page.locator(sel).first.get_attribute('src')


def color_mask(img: Image.Image, color, tol: int) -> np.ndarray:
    "(height, width) booleans: the pixels within `tol` of `color` in every channel."
    return (np.abs(np.asarray(img.convert('RGB'), dtype=int) - np.array(color)) <= tol).all(axis=2)


def marker_column(img: Image.Image, color=C3, tol: int = 40) -> tuple[int, int]:
    "The pixel column holding most pixels of `color` (the marker's vertical line), and how many it holds."
    counts = color_mask(img, color, tol).sum(axis=0)
    return int(counts.argmax()), int(counts.max())


def drag_to(page, handle, track, frac: float, steps: int = 20, pause: float = 0.03):
    "Drag `handle` with real mouse events (about human speed) to `frac` of the `track`'s width."
    hb, tb = handle.bounding_box(), track.bounding_box()
    x, y = hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2
    x1 = tb["x"] + frac * tb["width"]
    page.mouse.move(x, y); page.mouse.down()
    for i in range(1, steps + 1):
        page.mouse.move(x + (x1 - x) * i / steps, y); time.sleep(pause)
    page.mouse.up()


def monotonic(vals) -> bool:
    "Strictly increasing or strictly decreasing: a drag in one direction, no value bouncing back."
    d = [b - a for a, b in zip(vals, vals[1:])]
    return all(v > 0 for v in d) or all(v < 0 for v in d)


def norm(s: str) -> str: return ' '.join(s.split())


# ---- LR picker ----------------------------------------------------------------------------------------------------
def test_lr_picker(P: Page, check: Checks, summary: dict):
    page = P.page
    box, img = ".fc-lr-picker", ".fc-lr-picker img.fc-plot"
    handle, track = page.locator(".fc-lr-slider .noUi-handle").first, page.locator(".fc-lr-slider .noUi-target").first
    slider_readout, readout = ".fc-lr-slider .widget-readout", ".fc-lr-readout"

    def natural_scale():   # PNG pixels per screen pixel of the displayed image
        return page.locator(img).first.evaluate("e => e.naturalWidth / e.getBoundingClientRect().width")

    def compare(st, what):
        check(norm(P.text(readout)) == norm(' '.join(st['picker']['readout_lines'])),
              f"{what}: the page's readout is the kernel's ({st['picker']['readout_lines'][0][:60]}...)")
        shown = float(P.text(slider_readout))
        check(math.isclose(shown, st['picker']['slider'], rel_tol=6e-3),
              f"{what}: the slider's readout {shown:g} is the kernel's slider.value {st['picker']['slider']:.4g}")
        page_text = norm(P.text(readout))
        check(f"learn.lr = {st['learn_lr']}:" in page_text or f"learn.lr is still {st['learn_lr']}:" in page_text,
              f"{what}: the page's readout states the learner's lr, learn.lr = {st['learn_lr']}")

    def marker(shot, st, what):
        col, n = marker_column(shot)
        px = col * natural_scale()
        check(n >= 40 and abs(px - st['picker']['marker_px']) <= 4,
              f"{what}: the marker line is at PNG column {px:.0f} in the browser, where the kernel drew it "
              f"({st['picker']['marker_px']:.0f}; {n} red pixels in that column)")
        return px

    def no_loop(vals, what, before=None):
        # ipywidgets 8's FloatLogSlider view answers a value set by the kernel with Math.pow(base, its snapped log):
        # often the same grid point 1 ulp away. One such echo is expected and must change nothing; more is a loop.
        # On a busy machine the echo of the previous action can reach the kernel after its state was read: a leading
        # value on the grid point the slider already showed (`before`) belongs to that action, and changes nothing.
        late = 0
        while before is not None and late < len(vals) and math.isclose(vals[late], before, rel_tol=1e-9, abs_tol=0): late += 1
        if late: summary.setdefault('late echoes of an earlier action (harmless)', []).append(f"{what}: {vals[:late]}")
        vals = vals[late:]
        echo = len(vals) == 2 and math.isclose(vals[0], vals[1], rel_tol=1e-9, abs_tol=0)
        check(len(vals) == 1 or echo, f"{what}: the kernel set the slider once; the browser answered "
              f"{'with one echo of the same grid point, ' + f'{vals[1]!r} for {vals[0]!r}' if echo else f'{len(vals) - 1} times: {vals}'}")
        if echo: summary.setdefault('slider echoes (harmless, ignored by the picker)', []).append(f"{what}: {vals[0]!r} -> {vals[1]!r}")

    st0 = P.state("10_lr_start")
    shot0 = P.shot(img, "10_lr_start_plot"); P.shot(box, "10_lr_start")
    compare(st0, "at start")
    px0 = marker(shot0, st0, "at start")
    src0 = P.src(img)
    n0 = len(st0['value_log']['lr'])

    # 1. drag the handle to a quarter of the track with the mouse
    lo, hi = st0['picker']['min'], st0['picker']['max']
    frac = 0.25
    drag_to(page, handle, track, frac)
    st1 = P.state("11_lr_after_drag")
    shot1 = P.shot(img, "11_lr_after_drag_plot"); P.shot(box, "11_lr_after_drag")
    got = (math.log10(st1['picker']['lr']) - lo) / (hi - lo)
    check(abs(got - frac) < 0.04, f"drag to {frac:.0%} of the track: the kernel's lr {st1['picker']['lr_text']} is at {got:.1%} of the range")
    check(st1['learn_lr'] == st1['picker']['lr_text'], f"drag: learn.lr = {st1['learn_lr']} (the picker's lr {st1['picker']['lr_text']})")
    drag_vals = st1['value_log']['lr'][n0:]
    check(len(drag_vals) >= 2 and monotonic(drag_vals) and math.isclose(drag_vals[-1], st1['picker']['slider'], rel_tol=1e-9),
          f"drag: the kernel got {len(drag_vals)} slider values, in one direction (no bounce), ending at slider.value")
    compare(st1, "after the drag")
    check(P.src(img) != src0 and shot1.tobytes() != shot0.tobytes(), "drag: the plot image changed")
    px1 = marker(shot1, st1, "after the drag")
    check(px1 < px0 - 20, f"drag left: the marker moved left on screen, PNG column {px0:.0f} -> {px1:.0f}")

    # 2. keyboard on the focused handle: PageUp/PageDown move 5 grid steps (0.05 decade, a few pixels of marker:
    # a single 0.01-decade step can leave the PNG identical, and then rightly nothing is sent). Time each key press
    # to the <img>'s new src in the page's clock; then one arrow press must move exactly one grid step.
    handle.focus()
    page.evaluate(JS_WATCH, img)
    up = got < 0.5
    key, arrow, sign = ("PageUp", "ArrowRight", 1) if up else ("PageDown", "ArrowLeft", -1)
    lat, n1 = [], len(st1['value_log']['lr'])
    for _ in range(10):
        n_src = page.evaluate("() => __fcSrc.length")
        page.keyboard.press(key)
        page.wait_for_function(f"() => __fcDecoded[{n_src}] !== undefined", timeout=10_000)
        lat.append(page.evaluate(f"() => [__fcSrc[{n_src}], __fcDecoded[{n_src}]].map(t => t - __fcKeys[__fcKeys.length - 1])"))
        P.settle(quiet_ms=150)
    page.keyboard.press(arrow)
    st2 = P.state("12_lr_after_keys")
    P.shot(box, "12_lr_after_keys")
    key_vals = st2['value_log']['lr'][n1:]
    steps = [round((math.log10(b) - math.log10(a)) / st2['picker']['step'], 6) for a, b in zip([st1['picker']['slider']] + key_vals, key_vals)]
    check(steps == [5 * sign] * 10 + [sign],
          f"10 x {key} + 1 x {arrow}: the kernel got exactly 11 values, 5 grid steps each then 1 (steps {steps}): no echo")
    check(st2['learn_lr'] == st2['picker']['lr_text'] and math.isclose(st2['picker']['slider'], key_vals[-1]),
          f"keys: learn.lr = {st2['learn_lr']} follows the slider")
    compare(st2, "after the keys")
    to_src, to_decoded = [a for a, _ in lat], [b for _, b in lat]
    check(all(math.isfinite(v) for v in to_decoded), "keys: every new plot image decoded in the browser")
    med = statistics.median(to_decoded)
    summary['browser latency'] = (f"median {med:.0f} ms over {len(lat)} updates (min {min(to_decoded):.0f}, max {max(to_decoded):.0f} ms) "
                                  f"from {key} on the focused lr handle to the new plot image decoded; to its src set: median "
                                  f"{statistics.median(to_src):.0f} ms")
    summary['latency_line'] = f"browser latency: median {med:.0f} ms over {len(lat)} updates"
    print(summary['latency_line'], flush=True)

    # 3. a suggestion button: the kernel sets the slider (snapped to its grid), the browser must not send it back
    n2 = len(st2['value_log']['lr'])
    page.locator(".fc-lr-suggest", has_text="minimum").first.click()
    time.sleep(1.0)
    st3 = P.state("13_lr_after_suggestion")
    P.shot(box, "13_lr_after_suggestion")
    want = st3['picker']['suggestions']['minimum']
    check(math.isclose(st3['picker']['lr'], want, rel_tol=1e-12) and st3['learn_lr'] == st3['picker']['lr_text'],
          f"'minimum' button: learn.lr = {st3['learn_lr']}, the suggestion exactly")
    no_loop(st3['value_log']['lr'][n2:], "'minimum' button")
    compare(st3, "after the suggestion button")

    # 4. typed lr (on Enter), then text that is not a number: refused, shown in the readout, learn.lr unchanged
    typed = 10 ** (lo + 0.6 * (hi - lo))
    typed = float(f"{typed:.0e}")
    n3 = len(st3['value_log']['lr'])
    text = page.locator(".fc-lr-text input").first
    text.fill(f"{typed:g}"); text.press("Enter")
    st4 = P.state("14_lr_after_typing")
    P.shot(box, "14_lr_after_typing")
    check(st4['picker']['lr'] == typed, f"typed {typed:g} + Enter: the picker's lr is exactly {st4['picker']['lr']!r}; learn.lr = {st4['learn_lr']}")
    no_loop(st4['value_log']['lr'][n3:], "typed lr", before=st3['picker']['slider'])
    compare(st4, "after typing")
    text.fill("abc"); text.press("Enter")
    st5 = P.state("15_lr_after_bad_text")
    P.shot(box, "15_lr_after_bad_text")
    shown = norm(P.text(readout))
    check(shown.startswith("refused:") and "'abc' is not a number" in shown and st5['learn_lr'] == st4['learn_lr'],
          f"typed 'abc': the page shows the refusal ({shown[:50]}...) and learn.lr stays {st5['learn_lr']}")

    # 5. spread over the 3 layer groups: learn.lr becomes slice(lr/10, lr)
    page.locator(".fc-lr-spread select").first.select_option(label="lr/10 .. lr")
    st6 = P.state("16_lr_after_spread")
    P.shot(box, "16_lr_after_spread")
    g = st6['group_lrs']
    check(st6['learn_lr'].startswith('slice(') and math.isclose(g[-1], typed) and math.isclose(g[0], typed / 10)
          and math.isclose(g[1], typed / 10 ** 0.5), f"spread lr/10: learn.lr = {st6['learn_lr']}, group lrs {[f'{v:.3g}' for v in g]}")
    compare(st6, "after the spread")
    summary['lr picker'] = (f"drag -> {st1['picker']['lr_text']}, 10 keys -> {st2['picker']['lr_text']}, minimum -> {st3['picker']['lr_text']}, "
                            f"typed -> {st4['learn_lr']}, spread -> {st6['learn_lr']}")



# ---- freeze toggles ------------------------------------------------------------------------------------------------
BN_PARAMS = {'3.weight', '3.bias'}     # the BatchNorm1d of the notebook's model (in group 1): train_bn keeps it training

def test_freeze(P: Page, check: Checks, summary: dict):
    page = P.page
    box, rows = ".fc-freeze-toggles", page.locator(".fc-freeze-toggles .fc-freeze-row")
    n = rows.count()

    def compare(st, frozen, what):
        fr = st['freeze']
        check(fr['frozen'] == frozen, f"{what}: the kernel's learn.frozen is {fr['frozen']} (expected {frozen})")
        want = [[[name, (not frozen[i]) or name in BN_PARAMS] for name, _ in g] for i, g in enumerate(fr['requires_grad'])]
        check(fr['requires_grad'] == want, f"{what}: requires_grad of every parameter follows (BatchNorm of frozen groups "
              f"trains): {[[int(r) for _, r in g] for g in fr['requires_grad']]}")
        shown = [rows.nth(i).locator('.fc-freeze-toggle input').is_checked() for i in range(n)]
        check(shown == [not f for f in frozen] == fr['toggles'], f"{what}: the page's switches {shown} match the learner")
        check(norm(P.text('.fc-freeze-header')) == norm(' '.join(fr['header_lines'])),
              f"{what}: the page's header is the kernel's: {fr['header_lines'][0]} / {fr['header_lines'][1][:50]}")
        texts = [norm(rows.nth(i).inner_text()) for i in range(n)]
        check(all(all(norm(v) in t for v in r.values()) for t, r in zip(texts, fr['rows'])),
              f"{what}: every row shows the kernel's cells ({'; '.join(r['params'] + ', ' + r['state'] for r in fr['rows'])})")

    check(n == 3, f"freeze toggles: {n} rows in the page for the 3 layer groups")
    st = P.state("20_freeze_start"); P.shot(box, "20_freeze_start")
    compare(st, [False, False, False], "at start")
    rows.nth(1).locator('.fc-freeze-toggle input').click()           # untick the middle group: a non-contiguous pattern
    st = P.state("21_freeze_untick_group1"); P.shot(box, "21_freeze_untick_group1")
    compare(st, [False, True, False], "untick group 1")
    check('not a run from group 0' in norm(P.text('.fc-freeze-header')), "untick group 1: the header calls the pattern what it is")
    rows.nth(2).locator('.fc-freeze-to').click()                     # freeze_to(2)
    st = P.state("22_freeze_to_2"); P.shot(box, "22_freeze_to_2")
    compare(st, [True, True, False], "freeze_to(2) button")
    page.locator('.fc-unfreeze-all').first.click()
    st = P.state("23_freeze_unfreeze_all"); P.shot(box, "23_freeze_unfreeze_all")
    compare(st, [False, False, False], "unfreeze all button")
    P.kernel("learn.freeze(); toggles.refresh()")                    # a change made in code, then refresh()
    st = P.state("24_freeze_code_refresh"); P.shot(box, "24_freeze_code_refresh")
    compare(st, [True, True, False], "learn.freeze() in code + refresh()")
    P.kernel("learn.unfreeze(); toggles.refresh()")
    summary['freeze toggles'] = "untick group 1, freeze_to(2), unfreeze all, learn.freeze()+refresh: kernel and page agree"


# ---- schedule explorer ---------------------------------------------------------------------------------------------
GREY = (115, 115, 115)    # matplotlib '0.45': the dashed lines at SGDR restarts

def dashed_columns(img: Image.Image, color=GREY, tol: int = 14, min_px: int = 12) -> list[int]:
    "Columns (merged when adjacent) holding at least `min_px` pixels of `color`: the restart lines."
    cols = np.flatnonzero(color_mask(img, color, tol).sum(axis=0) >= min_px)
    groups = []
    for x in cols:
        if groups and x - groups[-1][-1] <= 2: groups[-1].append(int(x))
        else: groups.append([int(x)])
    return [round(sum(g) / len(g)) for g in groups]


def test_schedule(P: Page, check: Checks, summary: dict):
    page = P.page
    box, img = ".fc-schedule-explorer", ".fc-schedule-explorer img.fc-plot"
    cm = ".fc-sgdr-cycle-mult"

    def compare(st, what):
        ex = st['explorer']
        check(norm(P.text('.fc-schedule-code')) == ex['call'], f"{what}: the page shows the kernel's call {ex['call']}")
        check(norm(P.text('.fc-schedule-readout')).startswith(norm(ex['describe'])), f"{what}: the page's readout: {ex['describe']}")

    st0 = P.state("30_schedule_start"); shot0 = P.shot(img, "30_schedule_start_plot"); P.shot(box, "30_schedule_start")
    compare(st0, "at start")
    check(not page.locator(cm).first.is_visible(), "at start (one-cycle): the cycle_mult slider is hidden")
    page.locator(".fc-schedule-kind button", has_text="SGDR").first.click()
    st1 = P.state("31_schedule_sgdr"); shot1 = P.shot(img, "31_schedule_sgdr_plot"); P.shot(box, "31_schedule_sgdr")
    check(st1['explorer']['state']['kind'] == 'sgdr', f"SGDR button: the kernel's kind is {st1['explorer']['state']['kind']!r}")
    check(page.locator(cm).first.is_visible(), "SGDR: the cycle_mult slider is shown")
    check(shot1.tobytes() != shot0.tobytes(), "SGDR: the plot changed")
    compare(st1, "SGDR")
    marks1 = dashed_columns(shot1)
    n_log = len(st1['value_log']['cycle_mult'])

    # drag cycle_mult's handle to the right end of its track (1..4) with the mouse
    handle, track = page.locator(f"{cm} .noUi-handle").first, page.locator(f"{cm} .noUi-target").first
    drag_to(page, handle, track, 1.0)
    st2 = P.state("32_schedule_cycle_mult_drag"); shot2 = P.shot(img, "32_schedule_cycle_mult_drag_plot"); P.shot(box, "32_schedule_cycle_mult_drag")
    ex2, vals = st2['explorer'], st2['value_log']['cycle_mult'][n_log:]
    check(ex2['state']['cycle_mult'] == 4 and vals == [3, 4],
          f"drag cycle_mult right: the kernel got {vals} (one change per grid point, no bounce), state cycle_mult = {ex2['state']['cycle_mult']}")
    check(P.text(f"{cm} .widget-readout").strip() == '4', f"drag: the slider's readout shows {P.text(f'{cm} .widget-readout').strip()}")
    compare(st2, "cycle_mult 4")
    check(shot2.tobytes() != shot1.tobytes(), "cycle_mult 4: the plot changed")
    marks2 = dashed_columns(shot2)
    # restarts at epochs 1 and 1+4=5 of 21 now, 1 and 3 of 7 before: the second restart line moved left on the plot
    check(len(marks1) == len(st1['explorer']['marks']) and len(marks2) == len(ex2['marks']) and marks2[-1] < marks1[-1],
          f"restart lines in the browser: at PNG columns {marks1} then {marks2} (kernel: restarts at batches "
          f"{st1['explorer']['marks']} of {st1['explorer']['n_iter']}, then {ex2['marks']} of {ex2['n_iter']})")

    # keyboard: two ArrowLeft presses on the focused handle, back to 2
    handle.focus()
    page.keyboard.press("ArrowLeft"); P.settle(quiet_ms=150); page.keyboard.press("ArrowLeft")
    st3 = P.state("33_schedule_cycle_mult_keys"); shot3 = P.shot(img, "33_schedule_cycle_mult_keys_plot"); P.shot(box, "33_schedule_cycle_mult_keys")
    vals = st3['value_log']['cycle_mult'][n_log:]
    check(st3['explorer']['state']['cycle_mult'] == 2 and vals == [3, 4, 3, 2],
          f"2 x ArrowLeft: the kernel got {vals[2:]} (no echo), cycle_mult = {st3['explorer']['state']['cycle_mult']}")
    compare(st3, "cycle_mult 2")
    check(shot3.tobytes() == shot1.tobytes(), "cycle_mult back to 2: the plot is pixel-identical to the first SGDR plot")

    # run: trains with exactly the call shown, then overlays what the Recorder recorded
    src = P.src(img)
    page.locator(".fc-schedule-run").first.click()
    page.wait_for_function("() => (document.querySelector('.fc-schedule-message') || {}).innerText?.startsWith('done') "
                           "|| !!document.querySelector('.fc-schedule-message .fc-error')", timeout=120_000)
    st4 = P.state("34_schedule_after_run"); P.shot(img, "34_schedule_after_run_plot"); P.shot(box, "34_schedule_after_run")
    ex4 = st4['explorer']
    check(norm(P.text('.fc-schedule-message')).startswith('done'), f"run: the page says {norm(P.text('.fc-schedule-message'))[:60]!r}")
    check(ex4['recorded_len'] == ex4['n_iter'] and ex4.get('recorded_vs_plan') == 0,
          f"run: the Recorder recorded {ex4['recorded_len']} batches of lr, exactly the preview "
          f"(largest difference {ex4.get('recorded_vs_plan')}) for {ex4['call']}")
    check(P.src(img) != src and f"({ex4['n_iter']} batches)" in P.text('.fc-schedule-readout'),
          "run: the plot was redrawn with the recorded overlay, and the readout says so")
    summary['schedule explorer'] = (f"SGDR, cycle_mult 2 -> 4 (drag) -> 2 (keys), restart lines at columns {marks1} -> {marks2}; "
                                    f"run {ex4['call']}: recorded = preview")


# ---- training dashboard ----------------------------------------------------------------------------------------------
# installed before the cells run: every 40 ms, note the dashboard's image src and status line when either changed. Only
# for the summary: which intermediate frames a page catches depends on the machine's load, so no check relies on them.
JS_DASH_WATCH = """() => { window.__fcDash = []; let last = '';
  window.__fcDashTimer = setInterval(() => {
    const img = document.querySelector('img.fc-dashboard-plot'), st = document.querySelector('.fc-dashboard-status');
    if (!img || !img.src) return;
    const now = img.src + '|' + (st ? st.innerText : '');
    if (now !== last) { last = now; __fcDash.push([performance.now(), img.src, st ? st.innerText : '']); } }, 40); }"""
C0, C1 = (31, 119, 180), (255, 127, 14)
STATUS = re.compile(r'epoch (\d+)/(\d+) . batch (\d+)/(\d+)\b')

def color_count(img: Image.Image, color, tol: int = 30) -> int:
    "How many pixels of `img` are within `tol` of `color` in every channel."
    return int(color_mask(img, color, tol).sum())


def test_dashboard(P: Page, check: Checks, summary: dict):
    """The kernel's record of every frame the dashboard showed (its `frames`), checked as a sequence; the page only for
    what it must end with: the last status, a full progress bar, the Recorder's table and the kernel's last image."""
    page = P.page
    box = ".fc-training-dashboard"
    st = P.state("40_dashboard_final")
    shot = P.shot(f"{box} img.fc-plot", "40_dashboard_final_plot"); P.shot(box, "40_dashboard_final")
    d = st['dashboard']
    seen = page.evaluate("() => { clearInterval(window.__fcDashTimer); return window.__fcDash || []; }")
    total, n_epoch = d['progress'][1], d['n_epoch']
    n_per = total // n_epoch

    # the kernel's sequence of frames: from batch 0 to the last, in order, each status saying where the fit was
    frames = [(done, norm(html.unescape(status))) for done, status in d['frames']]
    dones = [done for done, _ in frames]
    first = frames[0][1] if frames else ''
    check(bool(frames) and dones[0] == 0 and bool(re.match(rf'epoch 1/{n_epoch} . batch 0/{n_per}\b', first)),
          f"kernel: the first frame is the start of the fit: batch {dones[0] if frames else None}, {first[:40]!r}")
    parsed = [STATUS.search(s) for _, s in frames]
    consistent = all(m and (int(m[1]) - 1) * n_per + int(m[3]) == done and int(m[2]) == n_epoch and int(m[4]) == n_per
                     for (done, _), m in zip(frames, parsed))
    check(consistent and dones == sorted(dones) and dones[-1] == total,
          f"kernel: the frames went through batches {dones} of {total}, in order, each status saying its epoch and batch")
    check(len(frames) == d['redraws'] + 1,
          f"kernel: {len(frames)} frames: the first draw and every one of the {d['redraws']} redraws "
          f"({1000 * d['time_spent']:.0f} ms in all)")
    check(frames[-1][1] == norm(html.unescape(d['status'])), f"kernel: the last frame is the final status: {frames[-1][1]}")

    # the page: what it ends with
    check(norm(P.text('.fc-dashboard-status')) == norm(html.unescape(d['status'])),
          f"page: the final status is the kernel's: {norm(html.unescape(d['status']))}")
    width = page.locator('.fc-dashboard-progress .progress-bar').first.evaluate("e => e.style.width")
    check(d['progress'][0] == d['progress'][1] and width == '100%', f"page: progress bar full: {d['progress']} in the kernel, width {width} in the page")
    cells = page.locator('table.fc-dashboard-table tr').evaluate_all("rs => rs.map(r => [...r.cells].map(c => c.innerText.trim()))")
    head, body = cells[0], cells[1:]
    ok = head == d['metric_names'] and len(body) == len(d['logs']) and all(
        int(r[0]) == v[0] and all(abs(float(a) - b) < 1e-6 for a, b in zip(r[1:-1], v[1:-1])) for r, v in zip(body, d['logs']))
    check(ok, f"page: the epoch table is the Recorder's: {len(body)} rows of {head}")
    sha = page.evaluate(JS_IMG_SHA256, f"{box} img.fc-plot")
    check(sha == d['plot_sha256'], f"page: the loss image is the kernel's last one (sha256 {sha[:12]}, kernel {d['plot_sha256'][:12]})")
    n0, n1 = color_count(shot, C0), color_count(shot, C1)
    check(n0 > 100 and n1 > 20, f"page: the loss plot shows the train curve ({n0} blue pixels) and the valid points ({n1} orange pixels)")
    caught = list(dict.fromkeys((int(m[1]) - 1) * n_per + int(m[3]) for _, _, s in seen if (m := STATUS.search(s))))
    mid = sorted({p for p in dones if 0 < p < total})
    summary['training dashboard'] = (f"{len(frames)} frames in the kernel during a {total}-batch fit (at batches {dones}; "
                                     f"{len(mid)} in the middle: max_share={d['max_share']}, min_interval={d['min_interval']} s); "
                                     f"the page caught {len(caught)} of them ({caught}), and ends with the kernel's last")


# the dashboard first: it checks the fit that ran with the cells (the explorer's run button trains again later)
SECTIONS = [("training dashboard", ".fc-training-dashboard", test_dashboard), ("LR picker", ".fc-lr-picker", test_lr_picker),
            ("freeze toggles", ".fc-freeze-toggles", test_freeze), ("schedule explorer", ".fc-schedule-explorer", test_schedule)]

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--port', required=True); ap.add_argument('--token', required=True)
    ap.add_argument('--notebook', required=True); ap.add_argument('--out', required=True)
    ap.add_argument('--chromium', default='/usr/bin/chromium')
    a = ap.parse_args()
    out = Path(a.out); check, summary = Checks(), {}
    page_errors, console_errors = [], []
    with sync_playwright() as p:
        # Playwright refuses --user-data-dir in args: the fresh profile folder goes here instead
        ctx = p.chromium.launch_persistent_context(tempfile.mkdtemp(prefix='fc-chromium-'), executable_path=a.chromium,
                                                   headless=True, args=ARGS, viewport={"width": 1400, "height": 1000})
        try:
            page = ctx.new_page()
            page.set_default_timeout(30_000)
            page.on('pageerror', lambda e: page_errors.append(str(e)))
            page.on('console', lambda m: console_errors.append(m.text) if m.type == 'error' else None)
            P = Page(page, out)
            page.goto(f"http://127.0.0.1:{a.port}/lab/tree/{a.notebook}?reset&token={a.token}", timeout=60_000)
            page.wait_for_function("() => !!(window.jupyterapp && jupyterapp.shell.currentWidget && jupyterapp.shell.currentWidget.sessionContext)", timeout=90_000)
            page.evaluate("async () => { window.__fcPanel = jupyterapp.shell.currentWidget; await __fcPanel.context.ready; await __fcPanel.sessionContext.ready; }")
            page.wait_for_function(JS_KERNEL_IDLE, timeout=90_000)
            page.evaluate("() => jupyterapp.shell.collapseLeft()")   # room for the widgets
            page.evaluate(JS_DASH_WATCH)
            log("notebook open, kernel idle: running all cells")
            t = time.monotonic()
            page.evaluate("async () => { await jupyterapp.commands.execute('notebook:run-all-cells'); }")
            page.wait_for_function("() => __fcPanel.content.widgets.every(c => c.model.type !== 'code' || (c.model.executionCount !== null && !c.node.querySelector('.jp-InputArea-prompt').textContent.includes('*')))", timeout=150_000)
            P.settle(timeout_s=60)
            summary['run all cells'] = f"{time.monotonic() - t:.1f} s"
            log(f"all cells ran in {time.monotonic() - t:.1f} s")
            errors = page.evaluate(JS_CELL_ERRORS)
            check(not errors, f"every cell ran without error{': ' + str(errors) if errors else ''}")
            page.screenshot(path=str(out / "00_notebook_after_run.png"))
            for name, sel, fn in SECTIONS:
                rendered = page.locator(sel).count() > 0
                if not check(rendered, f"{name}: rendered ({sel} in the page)"): continue
                page.locator(sel).first.scroll_into_view_if_needed()
                log(f"{name}")
                try: fn(P, check, summary)
                except Exception as e:
                    traceback.print_exc()
                    check(False, f"{name}: the test raised {type(e).__name__}: {str(e).splitlines()[0][:200]}")
                    try: page.screenshot(path=str(out / f"error_{name.replace(' ', '_')}.png"))
                    except Exception: pass
        except Exception as e:
            traceback.print_exc()
            check(False, f"the driver raised {type(e).__name__}: {str(e).splitlines()[0][:200]}")
            try: page.screenshot(path=str(out / "error.png"))
            except Exception: pass
        finally:
            ctx.close()
    (out / "browser_console_errors.log").write_text('\n'.join(page_errors + console_errors))
    widget_errors = [e for e in page_errors + console_errors if 'widget' in e.lower() or 'model' in e.lower()]
    check(not widget_errors, f"no widget errors in the browser console{': ' + str(widget_errors[:3]) if widget_errors else ''}")
    summary['browser console'] = f"{len(page_errors)} uncaught page errors, {len(console_errors)} console errors (browser_console_errors.log)"
    print("\nbrowser test summary:")
    print("\n".join(check.lines))
    for k, v in summary.items():
        if k != 'latency_line': print(f"  {k}: {v}")
    if 'latency_line' in summary: print(summary.pop('latency_line'))
    if check.failed:
        print(f"browser test: FAILED ({check.failed} of {len(check.lines)} checks failed)")
        return 1
    print(f"browser test: passed ({len(check.lines)} checks)")
    return 0


if __name__ == '__main__': sys.exit(main())
