"""The element modules preloaded on the first page (app_pages/preload.py): each name is one file of
the installed Streamlit's front end (and the data frame's style sheet), and every page run mounts
the component with them (the browser side is checked in tests/app/test_browser.py)."""
from __future__ import annotations

import json

from app_pages import preload


def test_every_element_module_is_one_file_of_the_installed_streamlit():
    files = preload.module_files()
    # a Streamlit release that renames or splits a module fails here, not silently in the browser
    assert [f.split(".")[0] for f in files] == list(preload.ELEMENT_MODULES)
    assert all((preload.STREAMLIT_STATIC / "js" / f).is_file() for f in files)
    assert [f.split(".")[0] for f in preload.style_files()] == ["DataFrame"]  # the one module with a style sheet


def test_a_name_without_exactly_one_file_is_left_out():
    assert preload.module_files(("NoSuchElement", "DataFrame")) == (preload.module_files(("DataFrame",))[0],)


def test_every_run_mounts_the_preload_with_the_module_files(app):
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    (mounted,) = [c for c in app.get("bidi_component") if c.proto.component_name == preload.COMPONENT]
    assert json.loads(mounted.proto.json) == {"files": list(preload.module_files()), "styles": list(preload.style_files())}
