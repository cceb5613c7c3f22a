"""Driving the real app in headless Chromium: start ``streamlit run app.py`` on a free port,
open pages, pick widgets, time the comparison's first tokens. Used by the browser tests and by
``bench/app.py``."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

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
def streamlit_server(env: dict[str, str], timeout: float = 120.0) -> Iterator[str]:
    """``streamlit run app.py`` on a free port with ``env`` added; yields its base URL."""
    port = free_port()
    log = open(ARTIFACTS.mkdir(parents=True, exist_ok=True) or ARTIFACTS / f"streamlit-{port}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.port", str(port),
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
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start (see {log.name})")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def launch(playwright):
    """Debian's Chromium, headless."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def wait_idle(page, timeout: float = 120_000, settle: bool = True) -> None:
    """Wait until the app has finished its current script run (no 'Running…' widget, no
    spinner); ``settle`` first gives a just-triggered run time to start, and after it to paint."""
    if settle:
        page.wait_for_timeout(300)
    page.wait_for_function(
        """() => {
            const w = document.querySelector('[data-testid="stStatusWidget"]');
            const busy = w && /Running|Stop/.test(w.innerText);
            return !busy && !document.querySelector('[data-testid="stSpinner"]');
        }""",
        timeout=timeout,
    )
    if settle:
        page.wait_for_timeout(200)


def open_map(page, base_url: str, timeout: float = 120_000) -> float:
    """Open the app at the map; seconds until the map chart is drawn and the run is over."""
    t0 = time.perf_counter()
    page.goto(f"{base_url}/")
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=timeout)
    wait_idle(page, timeout, settle=False)
    elapsed = time.perf_counter() - t0
    wait_idle(page, timeout)
    return elapsed


def go_to(page, title: str) -> None:
    """Click a page in the sidebar navigation (keeps the session, unlike a new URL)."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    page.wait_for_selector(f'h1:has-text("{title}")', timeout=60_000)
    wait_idle(page)


def select_option(page, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox labelled ``label``."""
    box = page.locator('[data-testid="stSelectbox"]', has_text=label).first
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def set_number(page, label: str, value: float) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")
    wait_idle(page)


TIMING_JS = """
() => {
  window.__ttft = {};
  window.__t0 = undefined;
  window.__busySeen = false;
  document.addEventListener('click', () => { window.__t0 = performance.now(); }, {capture: true, once: true});
  const check = () => {
    if (window.__t0 === undefined) return;
    const w = document.querySelector('[data-testid="stStatusWidget"]');
    if (w && /Running|Stop/.test(w.innerText)) window.__busySeen = true;
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
    page.get_by_role("button", name="Generate").click()
    page.wait_for_function("() => window.__busySeen", timeout=timeout)
    wait_idle(page, timeout)
    page.wait_for_selector('[data-testid="stCaptionContainer"]:has-text("Generated in")', timeout=timeout)
    ttft = page.evaluate("() => window.__ttft")
    texts = {side: page.locator(f".st-key-answer_{side}").inner_text().strip() for side in ("unsteered", "steered")}
    return {"texts": texts, "first_token_s": {k: round(v / 1000, 3) for k, v in ttft.items()}}
