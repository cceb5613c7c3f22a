"""The front-end code of the elements that later pages show, loaded while the browser is idle on
the first one.

Streamlit's front end loads each element type's code (a JavaScript module and the modules it
imports) the first time a page shows that element. The opinion map shows none of the Cohorts
page's table, data frame, metrics and buttons, so the first switch to Cohorts in a tab fetched,
compiled and ran 32 modules before it could draw. This small v2 component imports those modules
once per tab when the browser is idle, one at a time, so a later page finds them loaded (the
browser keeps one copy of a module per URL), and links the data frame's style sheet. Nothing is
drawn. It starts once the first page's run is over: started at once, it ran while the browser
waited for that run and made the map open 2.5-3 % slower (p50, paired). Measured side by side
(10 paired sessions, 3 s on the map first): the first switch to Cohorts 1.537 s against 1.752 (p50),
later switches 0.97x, the map's opens 1.00x (fresh browser) and 0.97x (warm; 12 paired opens).
Written here because neither Streamlit nor a library preloads its element modules.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path

import streamlit as st

# the element modules the pages use that the opinion map does not load (seen in the browser's
# requests on the first visit to each page): Cohorts, then Compare
ELEMENT_MODULES = ("DataFrame", "Table", "Metric", "Button", "LinkButton", "Multiselect",
                   "Checkbox", "NumberInput", "Slider", "TextArea")
STREAMLIT_STATIC = Path(st.__file__).resolve().parent / "static" / "static"
AFTER_RUN_MS = 500  # after the first page's run, for the browser to draw what it sent
MAX_WAIT_MS = 10_000

# Resolved against the URL of Streamlit's own entry module, so each import names the module by the
# URL that Streamlit's own imports use (whatever the app's base path).
_JS = """
export default function (component) {
  const data = component.data || {};
  const files = data.files || [];
  if (window.__pePreloaded || !files.length) return;
  const main = document.querySelector('script[type="module"][src*="/static/js/index."]');
  if (!main) return;
  window.__pePreloaded = true;
  const urls = files.map((file) => new URL(file, main.src).href);
  const idle = (fn) => (window.requestIdleCallback ? window.requestIdleCallback(fn) : setTimeout(fn, 500));
  const next = () => {
    const url = urls.shift();
    if (url) import(url).catch(() => {}).finally(() => idle(next));
  };
  const first = () => {
    // the modules' style sheets, linked first: Streamlit's loader then finds them and does not wait
    for (const file of data.styles || []) {
      const link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = new URL("../css/" + file, main.src).href;
      document.head.appendChild(link);
    }
    next();
  };
  // Not before the page is drawn: the browser is also idle while it waits for the script's run,
  // and a module run then would delay the first page. So start AFTER_RUN_MS after the script's run
  // is over (the state Streamlit keeps on its root element), or after MAX_WAIT_MS whatever happens.
  const app = document.querySelector('[data-testid="stApp"]');
  let started = false, timer = null;
  const start = () => {
    if (started) return;
    started = true;
    observer.disconnect();
    clearTimeout(timer);
    idle(first);
  };
  const check = () => {
    clearTimeout(timer);
    if (!app || app.dataset.testScriptState === "notRunning") timer = setTimeout(start, %(after_run_ms)d);
  };
  const observer = new MutationObserver(check);
  if (app) observer.observe(app, {attributes: true, attributeFilter: ["data-test-script-state"]});
  check();
  setTimeout(start, %(max_wait_ms)d);
}
""" % {"after_run_ms": AFTER_RUN_MS, "max_wait_ms": MAX_WAIT_MS}

COMPONENT = "persona_explorer.preload"
_component = st.components.v2.component(COMPONENT, js=_JS)


def _front_end_files(folder: Path, names: tuple[str, ...], suffix: str) -> tuple[str, ...]:
    """Per name of ``names``, its file in ``folder`` (the name, a dot, a content hash, ``suffix``);
    a name with no file, or several, is left out."""
    files = []
    for name in names:
        pattern = re.compile(rf"{re.escape(name)}\.[^.]+{re.escape(suffix)}")
        found = [p.name for p in folder.glob(f"{name}.*{suffix}") if pattern.fullmatch(p.name)]
        if len(found) == 1:
            files.append(found[0])
    return tuple(files)


@functools.cache
def module_files(names: tuple[str, ...] = ELEMENT_MODULES) -> tuple[str, ...]:
    """The JavaScript file of each module of ``names`` in the installed Streamlit's front end."""
    return _front_end_files(STREAMLIT_STATIC / "js", names, ".js")


@functools.cache
def style_files(names: tuple[str, ...] = ELEMENT_MODULES) -> tuple[str, ...]:
    """The style sheets of the modules of ``names`` that have one (the data frame's)."""
    return _front_end_files(STREAMLIT_STATIC / "css", names, ".css")


def mount() -> None:
    """Start the preload in this tab (it runs once per tab; every later run only keeps the element)."""
    _component(key="pe_preload", data={"files": list(module_files()), "styles": list(style_files())})
