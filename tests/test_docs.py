"""The built documentation, opened as a new user would: headless Chromium on a local server.

Runs after ``make doc`` with ``make doc-test`` (``pytest -m docs``; ``make test``
leaves it out). It serves ``doc/_build/html`` on 127.0.0.1, opens the index and
every gallery page in headless Chromium (Debian's ``chromium`` and
``chromium-driver``, driven by selenium), and checks that each page loads without
a server error, that the gallery's figures are there and decoded (``naturalWidth >
0``), and that every link inside the site resolves to a 200 from the local server.

Without the built HTML, Chromium or selenium the tests are skipped, except under
CI (``CI=true``), where they fail: CI builds the documentation first, so a missing
piece there is a broken set-up, not an optional extra.
"""

from __future__ import annotations

import http.client
import http.server
import os
import re
import shutil
import tempfile
import threading
from functools import partial
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import pytest

pytestmark = pytest.mark.docs

HTML = Path(__file__).resolve().parents[1] / "doc" / "_build" / "html"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
PAGE_TIMEOUT = 60  # s to load one page


def _missing_or_skip(reason):
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the documentation test must run in CI)")
    pytest.skip(reason)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output readable
        pass


@pytest.fixture(scope="module")
def site():
    """Base URL of doc/_build/html served on 127.0.0.1 (an ephemeral port)."""
    if not (HTML / "index.html").is_file():
        _missing_or_skip(f"No built documentation at {HTML}: run `make doc` first")
    handler = partial(_QuietHandler, directory=str(HTML))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through chromedriver, with a fresh profile."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing_or_skip("selenium is not installed (pip install -e '.[doc]')")
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).is_file():
            _missing_or_skip(f"{path} not found: apt-get install -y {package}")
    profile = tempfile.mkdtemp(prefix="mne-specae-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument("--window-size=1280,1024")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _example_pages():
    gallery = HTML / "auto_examples"
    return sorted(p.relative_to(HTML).as_posix() for p in gallery.glob("plot_*.html"))


def _status(url):
    """HTTP status of a GET of ``url`` from the local server."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", parts.path or "/")
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _open(browser, url):
    browser.get(url)
    state = browser.execute_script("return document.readyState")
    assert state == "complete", f"{url} did not finish loading ({state})"
    title = browser.title
    assert title and "404" not in title and "Error" not in title, f"{url}: title {title!r}"
    return title


def _wait_for_images(browser):
    """Wait until every <img> has finished loading (or failed), up to 30 s."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script("return Array.from(document.images).every(img => img.complete)")
    )


def _images(browser):
    return browser.execute_script(
        "return Array.from(document.images).map(img => "
        "({src: img.currentSrc || img.src, width: img.naturalWidth, "
        "cls: img.className}))"
    )


def _internal_links(browser, site):
    hrefs = browser.execute_script(
        "return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"
    )
    links = set()
    for href in hrefs:
        url, _ = urldefrag(href)
        if url.startswith(site):
            links.add(url)
    return links


def test_examples_were_built():
    if not (HTML / "index.html").is_file():
        _missing_or_skip(f"No built documentation at {HTML}: run `make doc` first")
    pages = _example_pages()
    sources = sorted((Path(__file__).resolve().parents[1] / "examples").glob("plot_*.py"))
    assert len(pages) == len(sources) >= 5, (pages, [s.name for s in sources])


def test_index_loads_and_links_to_every_section(site, browser):
    title = _open(browser, site + "index.html")
    assert "mne-specae" in title
    links = _internal_links(browser, site)
    for page in (
        "install.html",
        "quickstart.html",
        "auto_examples/index.html",
        "method.html",
        "api.html",
        "data.html",
        "performance.html",
        "changelog.html",
    ):
        assert site + page in links, f"index.html has no link to {page}"
    _wait_for_images(browser)
    broken = [img["src"] for img in _images(browser) if img["width"] == 0]
    assert not broken, f"images that did not load on the index: {broken}"


def test_gallery_pages_show_their_figures(site, browser):
    pages = _example_pages()
    assert pages, "no gallery page was built"
    _open(browser, site + "auto_examples/index.html")
    _wait_for_images(browser)
    thumbs = [img for img in _images(browser) if "_images/sphx_glr_" in img["src"]]
    assert len(thumbs) >= len(pages), f"gallery index shows {len(thumbs)} thumbnails"
    assert all(img["width"] > 0 for img in thumbs), [i["src"] for i in thumbs if i["width"] == 0]
    for page in pages:
        _open(browser, site + page)
        _wait_for_images(browser)
        figures = [
            img
            for img in _images(browser)
            if "sphx-glr-single-img" in img["cls"] or "sphx-glr-multi-img" in img["cls"]
        ]
        assert figures, f"{page}: no figure"
        empty = [img["src"] for img in figures if img["width"] == 0]
        assert not empty, f"{page}: figures that did not load: {empty}"
        text = browser.execute_script("return document.body.innerText")
        assert "Traceback (most recent call last)" not in text, f"{page} shows a traceback"
        assert "Total running time of the script" in text, f"{page}: not executed?"


def test_no_broken_internal_link(site, browser):
    """Every link inside the site, from the index, the API page and each example."""
    start = [
        "index.html",
        "api.html",
        "auto_examples/index.html",
        "data.html",
        "method.html",
        *_example_pages(),
    ]
    links, seen = set(), set()
    for page in start:
        _open(browser, site + page)
        seen.add(site + page)
        links |= _internal_links(browser, site)
    broken = {}
    for url in sorted(links):
        status = _status(url)
        if status != 200:
            broken[url] = status
    assert not broken, f"broken internal links: {broken}"
    # the targets are files of the build, not only answers of the server
    for url in links:
        rel = unquote(urlsplit(url).path).lstrip("/")
        target = HTML / rel
        assert target.is_file() or (target / "index.html").is_file(), url
    assert len(links) > 50, f"only {len(links)} internal links found"


class _Refs(HTMLParser):
    """Links (a, link), resources (img, script, source) and element ids of a page."""

    def __init__(self):
        super().__init__()
        self.refs, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        for key in ("href", "src"):
            if attrs.get(key) and tag in ("a", "link", "img", "script", "source", "iframe"):
                self.refs.append(attrs[key])


def _parse(path):
    parser = _Refs()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def test_every_page_of_the_site_has_working_internal_links(site):
    """Crawl every HTML page of the build: each internal href/src answers 200 from the
    server and each #fragment names an element of its target page."""
    # (_static/ holds the theme's own template files, not pages of the site)
    pages = sorted(p for p in HTML.rglob("*.html") if "_static" not in p.parts)
    assert len(pages) > 40, f"only {len(pages)} pages built"
    parsed = {page: _parse(page) for page in pages}
    checked, broken, missing_anchor = {}, [], []
    for page, refs in parsed.items():
        page_url = site + page.relative_to(HTML).as_posix()
        for ref in refs.refs:
            if re.match(r"^(?:[a-z][a-z0-9+.-]*:|//)", ref) and not ref.startswith(site):
                continue  # another site (mailto:, https://...): not ours to serve
            url, fragment = urldefrag(urljoin(page_url, ref))
            if not url.startswith(site):
                continue
            if url not in checked:
                checked[url] = _status(url)
            if checked[url] != 200:
                broken.append(f"{page.relative_to(HTML)} -> {ref} ({checked[url]})")
                continue
            if fragment and url.endswith(".html"):
                target = HTML / unquote(urlsplit(url).path).lstrip("/")
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if unquote(fragment) not in ids:
                    missing_anchor.append(f"{page.relative_to(HTML)} -> {ref}")
    assert not broken, f"{len(broken)} broken internal links: {broken[:20]}"
    assert not missing_anchor, (
        f"{len(missing_anchor)} links to missing anchors: {missing_anchor[:20]}"
    )
    assert len(checked) > 100, f"only {len(checked)} distinct internal URLs"


def test_api_reference_lists_every_public_name(site, browser):
    import mne_specae
    from mne_specae import datasets

    _open(browser, site + "api.html")
    links = {urljoin(site, url) for url in _internal_links(browser, site)}
    names = [
        f"mne_specae.{n}"
        for n in mne_specae.__all__
        if n not in ("datasets", "viz", "presets", "baselines")
    ]
    names += [f"mne_specae.datasets.{n}" for n in datasets.__all__]
    names += [
        f"mne_specae.viz.{n}"
        for n in ("plot_embedding", "plot_reconstruction", "plot_spectrogram", "plot_history")
    ]
    names += [
        "mne_specae.training.train_autoencoder",
        "mne_specae.training.split_by_group",
        "mne_specae.training.History",
        "mne_specae.nn.WaveformInput",
        "mne_specae.nn.InputStage",
        "mne_specae.presets.RECOMMENDED",
        "mne_specae.presets.STUDY",
        "mne_specae.presets.QUICK",
        "mne_specae.evaluation.baselines.BandPowers",
        "mne_specae.evaluation.baselines.InputPCA",
        "mne_specae.evaluation.baselines.RandomWeights",
        "mne_specae.evaluation.make_probe",
        "mne_specae.evaluation.reconstruction_r2",
        "mne_specae.evaluation.group_folds",
    ]
    missing = [n for n in names if f"{site}generated/{n}.html" not in links]
    assert not missing, f"api.html does not link to: {missing}"


def test_gallery_has_no_stray_outputs(site, browser):
    """No '<Figure size ...>' or 'Text(...)' lines from a cell's last expression."""
    stray = re.compile(r"<(\w+)?Figure size \d+x\d+|^Text\(|^\[<matplotlib", re.M)
    for page in _example_pages():
        _open(browser, site + page)
        outputs = browser.execute_script(
            "return Array.from(document.querySelectorAll('div.highlight-none pre, "
            "div.sphx-glr-script-out pre')).map(e => e.innerText)"
        )
        found = [m.group(0) for text in outputs for m in stray.finditer(text)]
        assert not found, f"{page}: stray outputs {found[:5]}"


def test_reconstructions_are_readable_at_page_width(site, browser, tmp_path):
    """The study-figure page shows its reconstructions wide (not thumbnails); a
    screenshot of the first one is saved and checked to hold an image, not a blank."""
    from selenium.webdriver.common.by import By

    _open(browser, site + "auto_examples/plot_04_study_figure.html")
    _wait_for_images(browser)
    browser.set_window_size(1400, 1000)
    shown = browser.execute_script(
        "return Array.from(document.images).filter(img => img.src.includes('sphx_glr_plot_04'))"
        ".map(img => ({src: img.src, shown: img.getBoundingClientRect().width, "
        "natural: img.naturalWidth}))"
    )
    wide = [img for img in shown if img["natural"] >= 700]
    assert len(wide) >= 3, shown  # one reconstruction figure per signal type
    for img in wide:
        assert img["shown"] >= 600, f"{img['src']} is drawn {img['shown']:.0f} px wide"
    first = browser.find_elements(By.CSS_SELECTOR, "img.sphx-glr-single-img")[1]
    browser.execute_script("arguments[0].scrollIntoView()", first)
    png = tmp_path / "reconstruction.png"
    first.screenshot(str(png))
    from PIL import Image

    pixels = Image.open(png).convert("L")
    assert pixels.size[0] >= 600
    low, high = pixels.getextrema()
    assert high - low > 100, "the screenshot is blank"


def test_landing_page_shows_a_figure_and_hides_the_design_notes(site, browser):
    _open(browser, site + "index.html")
    _wait_for_images(browser)
    figures = [img for img in _images(browser) if "sphx_glr_plot_04" in img["src"]]
    assert figures and figures[0]["width"] > 300, _images(browser)
    nav = browser.execute_script(
        "return Array.from(document.querySelectorAll('nav a, .bd-header a'))"
        ".map(a => a.innerText.trim().toLowerCase())"
    )
    assert not any("design" in label for label in nav), nav
    assert _status(site + "design.html") == 200  # still there, linked from the method page
