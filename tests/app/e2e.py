"""Driving the real app in headless Chromium: start ``streamlit run app.py`` on a free port,
open pages, pick widgets, time the comparison's first tokens. Used by the browser tests and by
``bench/app.py``."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from playwright.sync_api import expect

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("PERSONA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
ARTIFACTS = REPO / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_server(env: dict[str, str], timeout: float = 120.0, script: Path | None = None) -> Iterator[str]:
    """``streamlit run app.py`` (or ``script``) on a free port with ``env`` added; yields its base URL."""
    port = free_port()
    log = open(ARTIFACTS.mkdir(parents=True, exist_ok=True) or ARTIFACTS / f"streamlit-{port}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script or REPO / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=REPO, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start (see {log.name})")
            try:  # between two health checks: wait for the server process to end (it should not)
                proc.wait(timeout=0.3)
                raise RuntimeError(f"streamlit exited with {proc.returncode} (see {log.name})")
            except subprocess.TimeoutExpired:
                pass
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def scratch_app(folder: Path, source: str) -> Path:
    """A one-file Streamlit app (``source``) in ``folder``, which can import the repository's
    modules, beside a ``static/`` folder holding the light charts' plotly.js bundles
    (app_pages/plotly_light.py), as the app's own are served; returns the script's path."""
    import shutil

    from app_pages import plotly_light

    (folder / "static").mkdir(parents=True, exist_ok=True)
    for bundle in plotly_light.BUNDLES:
        shutil.copy(bundle.path, folder / "static" / bundle.file)
    script = folder / "scratch_app.py"
    script.write_text(f"import sys; sys.path.insert(0, {str(REPO)!r})\n" + source)
    return script


@contextmanager
def scratch_page(folder: Path, source: str, viewport: dict) -> Iterator[tuple]:
    """A Chromium page on a served :func:`scratch_app` of ``source``: yields (page, url, errors),
    ``errors`` collecting the page's uncaught JavaScript errors."""
    from playwright.sync_api import sync_playwright

    with streamlit_server({}, script=scratch_app(folder, source)) as url, sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = new_page(browser, viewport=viewport)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            yield page, url, errors
        finally:
            browser.close()


def launch(playwright):
    """Debian's Chromium, headless."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


# Installed before the app's own scripts (page.add_init_script). On the app's websocket it counts
# the rerun requests the browser sends (BackMsg.rerun_script, field 11) and the script runs the
# server reports finished (ForwardMsg.script_finished, field 6; status 2 = stopped early because
# another run follows, so not counted), both on one sequence; through React's devtools hook it
# counts React's commits. Streamlit hands a message to React within the task it arrives in and
# React commits in a later task, so "the last finished run came after the last request, and React
# has committed since it arrived" is a condition the page can be waited on, with no settle time.
RUN_HOOK_JS = r"""
(() => {
  if (window !== window.top || window.__stRuns) return;
  const runs = window.__stRuns = {seq: 0, requested: 0, fullPending: false, fullRequests: 0, finished: 0, finishedCount: 0,
                                  commits: 0, commitsAtFinish: 0, log: []};
  const note = (...entry) => { runs.log.push([...entry, Math.round(performance.now())]); if (runs.log.length > 100) runs.log.shift(); };
  if (window.__REACT_DEVTOOLS_GLOBAL_HOOK__ === undefined) {
    window.__REACT_DEVTOOLS_GLOBAL_HOOK__ = {
      isDisabled: false, supportsFiber: true, renderers: new Map(), inject: () => 1, checkDCE: () => {},
      onCommitFiberRoot: () => { runs.commits++; }, onCommitFiberUnmount: () => {}, onPostCommitFiberRoot: () => {},
    };
  }
  const fields = (buf) => {  // top-level fields of one protobuf message: [[number, varint or null]]
    const b = new Uint8Array(buf), out = [];
    let i = 0;
    const varint = () => { let v = 0, m = 1, c; do { c = b[i++]; v += (c & 127) * m; m *= 128; } while ((c & 128) && i < b.length); return v; };
    while (i < b.length) {
      const tag = varint(), field = Math.floor(tag / 8), wire = tag % 8;
      if (wire === 0) out.push([field, varint()]);
      else if (wire === 2) { const n = varint(); out.push([field, b.subarray(i, i + n)]); i += n; }  // n is read before i moves
      else if (wire === 1) { i += 8; out.push([field, null]); }
      else if (wire === 5) { i += 4; out.push([field, null]); }
      else break;
    }
    return out;
  };
  const bytes = (data) => data instanceof ArrayBuffer ? data
    : ArrayBuffer.isView(data) ? data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength) : null;
  const Native = window.WebSocket;
  class Watched extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => {  // added before Streamlit's own listener: runs first
        const buf = bytes(event.data);
        const finished = buf && fields(buf).find(([f]) => f === 6);
        if (!finished) return;
        note('finished', finished[1], runs.seq + 1);
        if (finished[1] === 2) return;
        // a fragment's run (status 3; e.g. the jobs panel polling) while a full rerun is pending
        // is not that rerun's end
        if (finished[1] === 3 && runs.fullPending) return;
        if (finished[1] !== 3) runs.fullPending = false;
        runs.finished = ++runs.seq;
        runs.finishedCount++;
        runs.commitsAtFinish = runs.commits;
      });
    }
    send(data) {
      const buf = bytes(data);
      const rerun = buf && fields(buf).find(([f]) => f === 11);
      if (rerun) {
        const fragment = rerun[1] && fields(rerun[1]).some(([f, v]) => f === 5 && v && v.length > 0);
        if (!fragment) { runs.fullPending = true; runs.fullRequests++; }
        runs.requested = ++runs.seq;
        note(fragment ? 'requested fragment' : 'requested', runs.seq);
      }
      return super.send(data);
    }
  }
  window.WebSocket = Watched;
})();
"""

IDLE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.dataset.testConnectionState !== 'CONNECTED' || app.dataset.testScriptState !== 'notRunning') return false;
  if (document.querySelector('[data-testid="stSpinner"]')) return false;
  const runs = window.__stRuns;
  return !runs || (runs.finished > runs.requested && runs.commits > runs.commitsAtFinish);
}"""


def run_log(page) -> list:
    """The last rerun requests and finished runs seen on ``page`` (for a failing test's message)."""
    return page.evaluate("() => window.__stRuns ? window.__stRuns.log : null")


def watch_runs(page) -> None:
    """Count the app's script runs in ``page`` from its next navigation on (see RUN_HOOK_JS)."""
    if not getattr(page, "_st_runs_watched", False):
        page.add_init_script(RUN_HOOK_JS)
        page._st_runs_watched = True


def new_page(browser, **kwargs):
    """A new page whose script runs are counted, so :func:`wait_idle` and :func:`rerun` need no
    settle time."""
    page = browser.new_page(**kwargs)
    watch_runs(page)
    return page


def wait_idle(page, timeout: float = 120_000) -> None:
    """Wait until the app is connected, shows no run and no spinner, and (on a watched page) has
    finished a script run after the last rerun the browser requested (and React has drawn it)."""
    _wait_for(page, IDLE_JS, timeout)


def _wait_for(page, condition_js: str, timeout: float) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(condition_js, timeout=timeout)
    except PlaywrightTimeout as exc:
        raise AssertionError(f"the app did not get idle in {timeout / 1000:.0f} s; requests and finished runs "
                             f"[kind, status, seq, ms]: {run_log(page)}") from exc


def finished_runs(page) -> int:
    return _runs_field(page, "finishedCount")


def _runs_field(page, name: str) -> int:
    runs = page.evaluate(f"() => window.__stRuns ? window.__stRuns.{name} : null")
    if runs is None:
        raise RuntimeError("this page's script runs are not watched: open it with e2e.new_page or e2e.open_app")
    return runs


@contextmanager
def rerun(page, timeout: float = 120_000, fragment: bool = False) -> Iterator[None]:
    """``with rerun(page): <action>``: the action must make the app run its whole script (a
    click, a changed widget, a key the page handles); waits until the browser has asked for a
    full run after the action started, and a run that finished after it, followed by no pending
    request, is shown. ``fragment``: the action reruns only a fragment (a widget inside one), so
    any run counts. Without the first condition a fragment polling on its own (the jobs panel,
    every 2 s) that finished while the action was still under way, before the browser sent the
    action's rerun (a lasso's selection is sent on release), ended the wait too early."""
    before = finished_runs(page)
    full_before = _runs_field(page, "fullRequests")
    yield
    asked = "true" if fragment else f"window.__stRuns.fullRequests > {full_before}"
    _wait_for(page, f"() => {asked} && window.__stRuns.finishedCount > {before} && ({IDLE_JS})()", timeout)


def open_app(page, url: str, timeout: float = 120_000) -> None:
    """Go to ``url`` (a page of the app) and wait until its first script run is shown."""
    watch_runs(page)
    page.goto(url)
    _wait_for(page, f"() => window.__stRuns && window.__stRuns.finishedCount > 0 && ({IDLE_JS})()", timeout)


# The opinion map's chart (its key is "map_chart"), drawn: by app_pages/plotly_light.py's component
# (or by st.plotly_chart where that cannot draw it)
MAP_CHART = '.st-key-map_chart .main-svg'
ANY_CHART = '[data-testid="stPlotlyChart"] .main-svg, .pe-plotly .main-svg'
# Every Plotly chart of a page, whichever way it is drawn
CHARTS = '[data-testid="stPlotlyChart"], .pe-plotly'


def drawn_and_idle_js(selector: str) -> str:
    """A condition for :func:`_wait_for`: an element matches ``selector`` and a finished run is
    shown (:data:`IDLE_JS`). One in-page condition, checked every animation frame: Playwright's
    ``wait_for_selector`` polls from outside the page with a backoff that reaches 500 ms, which
    would add up to half a second to a timed wait."""
    return f"() => !!document.querySelector({json.dumps(selector)}) && window.__stRuns.finishedCount > 0 && ({IDLE_JS})()"


def open_map(page, base_url: str, timeout: float = 120_000, chart: str = MAP_CHART) -> float:
    """Open the app at the map; seconds until the map chart (``chart``, a selector) is drawn and
    the run is over."""
    watch_runs(page)
    t0 = time.perf_counter()
    page.goto(f"{base_url}/")
    wait_drawn(page, chart, timeout)
    return time.perf_counter() - t0


def wait_drawn(page, chart: str = MAP_CHART, timeout: float = 60_000) -> None:
    """Wait until an element matches ``chart`` (a selector) and the page's last run is shown."""
    _wait_for(page, drawn_and_idle_js(chart), timeout)


def go_to(page, title: str) -> None:
    """Click a page in the sidebar navigation (keeps the session, unlike a new URL)."""
    with rerun(page, timeout=180_000):
        page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    page.wait_for_selector(f'h1:has-text("{title}")', timeout=60_000)


def lasso(page, chart: str, margin: float = 0.02) -> tuple[float, float]:
    """Draw a lasso around the plot area of the Plotly chart in ``chart`` (a selector), ``margin``
    (a share of its width and height) inside each edge, and wait for the run that follows.
    Returns (seconds the drag took, seconds from releasing the mouse until that run is shown)."""
    box = page.locator(f"{chart} .nsewdrag").first.bounding_box()
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    lo, hi = margin, 1 - margin
    corners = [(lo, lo), (hi, lo), (hi, hi), (lo, hi), (lo, lo + 0.01)]
    with rerun(page):
        start = time.perf_counter()
        page.mouse.move(x0 + w * corners[0][0], y0 + h * corners[0][1])
        page.mouse.down()
        for fx, fy in corners[1:]:
            page.mouse.move(x0 + w * fx, y0 + h * fy, steps=8)
        released = time.perf_counter()
        page.mouse.up()
    return released - start, time.perf_counter() - released


def select_option(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label`` (and wait for the run that follows;
    picking the option already shown runs nothing)."""
    box = page.locator('[data-testid="stSelectbox"]', has_text=label).first
    if box.get_by_role("combobox").input_value() == option:
        return
    with rerun(page):
        box.click()
        page.get_by_role("option", name=option, exact=True).click()
    expect(box.get_by_role("combobox")).to_have_value(option)


def set_number(page, label: str, value: float) -> None:
    """Type ``value`` into the number field labelled ``label`` (and wait for the run that follows;
    the value already shown runs nothing)."""
    field = page.get_by_label(label, exact=True)
    if float(field.input_value()) == float(value):
        return
    with rerun(page):
        field.fill(str(value))
        field.press("Enter")


TIMING_JS = """
() => {
  window.__ttft = {};
  window.__t0 = undefined;
  document.addEventListener('click', () => { window.__t0 = performance.now(); }, {capture: true, once: true});
  const check = () => {
    if (window.__t0 === undefined) return;
    for (const name of ['unsteered', 'steered']) {
      const box = document.querySelector('.st-key-answer_' + name);
      // streaming text ends in a cursor; the first token is the first cursor with text before it
      if (window.__ttft[name] === undefined && box && box.innerText.includes('\u258c')
          && box.innerText.replace(/[\\s\u258c]/g, '').length > 0) {
        window.__ttft[name] = performance.now() - window.__t0;
      }
    }
  };
  new MutationObserver(check).observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


def generate(page, timeout: float = 300_000) -> dict:
    """Click Generate on the Compare page and wait for the run to end; returns both answers and
    the seconds from the click to the first streamed text of each side (browser clock)."""
    page.evaluate(TIMING_JS)
    with rerun(page, timeout):
        page.get_by_role("button", name="Generate").click()
    page.wait_for_selector('[data-testid="stCaptionContainer"]:has-text("Generated in")', timeout=timeout)
    ttft = page.evaluate("() => window.__ttft")
    texts = {side: page.locator(f".st-key-answer_{side}").inner_text().strip() for side in ("unsteered", "steered")}
    return {"texts": texts, "first_token_s": {k: round(v / 1000, 3) for k, v in ttft.items()}}
