"""Build the whole site as `make book` does (warnings are errors) and check the pages.

The build runs once per test session; the same HTML is then checked as files (links, anchors,
no off-site scripts or styles) and in headless Chromium, served from 127.0.0.1 (every page
loads without console errors, math renders, images load, animations and widgets run, and
every request stays on 127.0.0.1). Screenshots of the chapter pages go to artifacts/screenshots/.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import pathlib
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import pytest
import yaml
from bs4 import BeautifulSoup

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
NOTEBOOKS = sorted((ROOT / "chapters").glob("*/*.ipynb"))
BUILD = ROOT / "_ext" / "build_book.py"  # `jupyter-book build`, two notebooks at a time
CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMEDRIVER = pathlib.Path("/usr/bin/chromedriver")
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
APT = "apt-get update && apt-get install -y chromium chromium-driver"

pytestmark = pytest.mark.slow  # builds the whole site: `make test` runs it, `make unit` does not


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> pathlib.Path:
    assert (ROOT / "_vendor" / "VERSIONS").exists(), "no vendored JavaScript: run `make test`"
    out = tmp_path_factory.mktemp("site")
    start = time.monotonic()
    run = subprocess.run(
        [sys.executable, str(BUILD), "build", str(ROOT), "-W", "-n", "--keep-going"]
        + ["--path-output", str(out)],
        capture_output=True,
        text=True,
        env=os.environ | {"JOBS": "2"},
    )
    print(f"site build: {time.monotonic() - start:.0f} s")
    log = run.stdout + run.stderr
    assert run.returncode == 0, f"the build failed:\n{log[-6000:]}"
    # The kernel's own "[IPKernelApp] WARNING" lines are not Sphinx warnings.
    warnings = [
        line for line in log.splitlines() if "WARNING" in line and "IPKernelApp" not in line
    ]
    assert not warnings, "the build warned:\n" + "\n".join(warnings)
    assert "doing serial read" not in log, "an extension stopped the parallel read"
    return out / "_build" / "html"


def page(site: pathlib.Path, nb: pathlib.Path) -> str:
    html = site / nb.relative_to(ROOT).with_suffix(".html")
    assert html.exists(), f"{html} was not built"
    return html.read_text(encoding="utf-8")


def twin_name(nb: pathlib.Path) -> str:
    """`NN-slug.en.ipynb` -> `NN-slug.es.html` and back."""
    lang = "es" if nb.name.endswith(".en.ipynb") else "en"
    return re.sub(r"\.(en|es)\.ipynb$", f".{lang}.html", nb.name)


def test_index_is_built(site):
    assert (site / "index.html").exists()


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_page_language(site, nb):
    lang = "es" if nb.name.endswith(".es.ipynb") else "en"
    assert re.search(rf'<html[^>]* lang="{lang}"', page(site, nb)), f"page is not lang={lang}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_launch_buttons_point_at_this_notebook(site, nb):
    html = page(site, nb)
    repo = CONFIG["repository"]["url"].removeprefix("https://github.com/")
    path = nb.relative_to(ROOT).as_posix()
    colab = f"https://colab.research.google.com/github/{repo}/blob/main/{path}"
    assert colab in html, "no Colab button for this notebook"
    binder = re.search(r'href="(https://mybinder.org/v2/gh/[^"]+)"', html)
    assert binder, "no Binder button"
    assert urllib.parse.unquote(binder.group(1)).endswith(f"/{repo}/main?urlpath=tree/{path}")


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_twin_link_resolves(site, nb):
    html = page(site, nb)
    href = twin_name(nb)
    assert f'href="{href}"' in html, f"no link to the twin page {href}"
    assert (site / nb.parent.relative_to(ROOT) / href).exists()


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_language_switch_in_the_header(site, nb):
    """Besides the link under the title, the article header links the twin (page_layout.py)."""
    header = soup(site / nb.relative_to(ROOT).with_suffix(".html")).select_one(".bd-header-article")
    switch = header.select("a.language-switch") if header else []
    assert len(switch) == 1, "no language switch in the page header"
    assert switch[0]["href"] == twin_name(nb) and switch[0]["hreflang"] == lang_of(twin_name(nb))


def lang_of(href: str) -> str | None:
    found = re.search(r"\.(en|es)\.html(#.*)?$", href)
    return found.group(1) if found else None


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_previous_and_next_stay_in_the_page_language(site, nb):
    lang = "es" if nb.name.endswith(".es.ipynb") else "en"
    html = BeautifulSoup(page(site, nb), "html.parser")
    for cls in ("left-prev", "right-next"):
        for a in html.select(f"a.{cls}"):
            assert lang_of(a["href"]) in (lang, None), f"{cls} leaves the language: {a['href']}"


THEME_WORDS = {
    "en": ["Contents", "Search this book", "Click to show"],
    "es": ["Contenido", "Buscar en este libro", "Haz clic para mostrar"],
}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_theme_speaks_the_page_language(site, nb):
    """The theme's own words (search box, contents, toggle hint, previous/next) are in the
    page's language; _ext/page_language.py swaps the catalogs per page."""
    lang = "es" if nb.name.endswith(".es.ipynb") else "en"
    other = "en" if lang == "es" else "es"
    html = page(site, nb)
    for word in THEME_WORDS[lang]:
        assert word in html, f"the theme's {word!r} is missing"
    for word in THEME_WORDS[other]:
        assert word not in html, f"the other language's {word!r} is on the page"
    assert 'class="math' in html and "tex-mml-chtml.js" in html, "MathJax is not loaded"
    soup_ = BeautifulSoup(html, "html.parser")
    subtitles = {p.get_text(strip=True) for p in soup_.select("p.prev-next-subtitle")}
    words = {"en": {"previous", "next"}, "es": {"anterior", "siguiente"}}
    assert subtitles and subtitles <= words[lang], subtitles


ERRATA = {"en": "errata.en.html", "es": "errata.es.html"}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_errata_page_links_each_erratum_to_its_chapter_and_back(site, lang):
    errata = BeautifulSoup((site / ERRATA[lang]).read_text(encoding="utf-8"), "html.parser")
    anchors = errata.select("[id^=erratum-]")
    assert len(anchors) >= 7, f"{len(anchors)} errata listed"
    for anchor in anchors:
        name = anchor["id"]
        section = anchor if anchor.name == "section" else anchor.find_parent("section")
        links = [a["href"] for a in section.select("a.reference.internal")]
        chapter_links = [h for h in links if h.startswith("chapters/")]
        assert chapter_links, f"erratum {name} links to no chapter section"
        target = chapter_links[0].split("#")[0]
        assert lang_of(target) == lang, f"{name} links into the other language"
        back = (site / target).read_text(encoding="utf-8")
        assert f"errata.{lang}.html#{name}" in back, f"{target} does not link back to {name}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_printed_output_and_no_leaked_reprs(site, nb):
    """Each cell's printed text is one box (nb_merge_streams), and no figure code leaks the repr
    of a matplotlib object (`<matplotlib.legend.Legend at 0x...>`) onto the page."""
    html = BeautifulSoup(page(site, nb), "html.parser")
    for i, out in enumerate(html.select("div.cell_output")):
        boxes = out.select("div.output.stream")
        assert len(boxes) <= 1, f"output {i} prints in {len(boxes)} boxes"
    leaked = re.findall(r"&lt;(?:matplotlib|Figure)[^&]*&gt;", page(site, nb))
    assert not leaked, f"leaked reprs: {leaked}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_every_claim_holds_in_the_default_build(site, nb):
    """lib.check prints ✗ for a claim of the prose that this build does not support (the book
    build is not strict, so that the page still shows the run); no page may show one."""
    text = BeautifulSoup(page(site, nb), "html.parser").get_text()
    failed = [line for line in text.splitlines() if line.startswith("✗ ")]
    assert not failed, f"claims that do not hold: {failed}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executed_without_errors(site, nb):
    html = page(site, nb)
    assert "Traceback (most recent call last)" not in html
    assert 'class="output traceback' not in html


# --- the built HTML as files --------------------------------------------------------------


def html_pages(site: pathlib.Path) -> list[pathlib.Path]:
    """Every page of the site (not the vendored libraries' or the sources' files)."""
    return sorted(
        p
        for p in site.rglob("*.html")
        if p.relative_to(site).parts[0] not in ("_static", "_sources")
    )


@functools.cache
def soup(path: pathlib.Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def test_no_resource_loads_from_another_site(site):
    """Scripts, styles, images and frames come from the site itself (links may go anywhere)."""
    offsite = []
    for path in html_pages(site):
        for tag, attr in [("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src")]:
            for el in soup(path).find_all(tag, attrs={attr: True}):
                url = el[attr]
                if re.match(r"^([a-z]+:)?//", url) and not url.startswith("data:"):
                    offsite.append(f"{path.relative_to(site)}: <{tag} {attr}={url}>")
    assert not offsite, "resources from other sites:\n" + "\n".join(offsite)


def test_internal_links_and_anchors_resolve(site):
    broken = []
    for path in html_pages(site):
        for el in soup(path).find_all(["a", "link", "script", "img"]):
            url = el.get("href") or el.get("src")
            if not url or re.match(r"^[a-z][a-z0-9+.-]*:", url) or url.startswith("//"):
                continue  # external, mailto:, data:, javascript:
            parts = urllib.parse.urlsplit(url)
            target = path if not parts.path else (path.parent / urllib.parse.unquote(parts.path))
            target = target.resolve()
            if target.is_dir():
                target = target / "index.html"
            where = f"{path.relative_to(site)}: {url}"
            if not target.exists():
                broken.append(f"{where} (no such file)")
            elif parts.fragment and target.suffix == ".html":
                anchor = urllib.parse.unquote(parts.fragment)
                if not soup(target).find(id=anchor) and not soup(target).find(
                    attrs={"name": anchor}
                ):
                    broken.append(f"{where} (no #{anchor} there)")
    assert not broken, "broken internal links:\n" + "\n".join(broken)


def test_bibliography_lists_every_entry(site):
    bib = (ROOT / "references.bib").read_text(encoding="utf-8")
    titles = [t.replace("{", "").replace("}", "") for t in re.findall(r"\btitle += \{(.+)\},", bib)]
    html = (site / "references.html").read_text(encoding="utf-8")
    assert len(titles) >= 11
    missing = [t for t in titles if t not in html]
    assert not missing, f"not in the bibliography page: {missing}"


def test_environment_page_was_executed_at_build_time(site):
    import torch

    html = (site / "environment.html").read_text(encoding="utf-8")
    assert f"torch                 {torch.__version__}" in html, "no torch version printed"
    assert "CPU cores" in html and "jupyter-book" in html
    stored = json.loads((ROOT / "environment.ipynb").read_text(encoding="utf-8"))
    code = [c for c in stored["cells"] if c["cell_type"] == "code"]
    assert all(not c["outputs"] and c["execution_count"] is None for c in code), (
        "stored with outputs"
    )


# --- the site in a browser ------------------------------------------------------------------


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    assert not missing, f"{missing} missing: `make test` installs them as root, or run `{APT}`"
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--disable-dev-shm-usage",
        "--window-size=1280,1024",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    yield driver
    driver.quit()


# What the page reports once it has settled: math, images, animations, widgets, links.
INSPECT = """
const done = arguments[arguments.length - 1];
const deadline = Date.now() + 20000;
const views = document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]');
async function settle() {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  for (const img of document.images) img.loading = 'eager';
  while (Date.now() < deadline) {
    const imgs = [...document.images].every(i => i.complete);
    const widgets = document.querySelectorAll('.jupyter-widgets').length >= views.length;
    if (imgs && widgets) break;
    await new Promise(r => setTimeout(r, 100));
  }
  const links = [...document.querySelectorAll('a[href]')].map(a => a.href);
  return {
    mathSource: document.querySelectorAll('.math, span.math, div.math').length,
    mathRendered: document.querySelectorAll('mjx-container').length,
    mathErrors: document.querySelectorAll('mjx-merror').length,
    badImages: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0))
      .map(i => i.src.slice(0, 120)),
    animations: document.querySelectorAll('div.animation').length,
    animationsRunning: [...document.querySelectorAll('div.animation img')]
      .filter(i => i.src.startsWith('data:image') && i.naturalWidth > 0).length,
    widgetViews: views.length,
    widgetsRendered: document.querySelectorAll('.jupyter-widgets').length,
    links: links,
    download: [...document.querySelectorAll('a.btn-download-source-button')].map(a => a.href),
  };
}
settle().then(done, e => done({error: String(e)}));
"""


def requests_of(driver) -> tuple[list[str], dict[str, int], list[str]]:
    """URLs the page requested, their HTTP status, and failed loads (from Chrome's log)."""
    urls, status, failed, ids = [], {}, [], {}
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        params = msg.get("params", {})
        if msg["method"] == "Network.requestWillBeSent":
            urls.append(params["request"]["url"])
            ids[params["requestId"]] = params["request"]["url"]
        elif msg["method"] == "Network.responseReceived":
            status[params["response"]["url"]] = params["response"]["status"]
        elif msg["method"] == "Network.loadingFailed" and not params.get("canceled"):
            failed.append(f"{ids.get(params['requestId'], '?')}: {params.get('errorText')}")
    return urls, status, failed


@pytest.fixture(scope="module")
def visits(site, server, browser) -> dict[str, dict]:
    """Load every page once; return what each showed, keyed by its path in the site."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob("*.png"):
        old.unlink()
    browser.get("about:blank")  # drop what the browser did on its own before the first page
    browser.get_log("browser"), browser.get_log("performance")
    start = time.monotonic()
    results = {}
    for path in html_pages(site):
        rel = path.relative_to(site).as_posix()
        browser.get(server + rel)
        if rel == "index.html":  # a redirect to the root page
            time.sleep(1)
        report = browser.execute_async_script(INSPECT)
        # Chrome asks for /favicon.ico by itself; the book has no icon.
        report["console"] = [
            e["message"]
            for e in browser.get_log("browser")
            if e["level"] == "SEVERE" and "/favicon.ico " not in e["message"]
        ]
        report["urls"], report["status"], report["failed"] = requests_of(browser)
        name = path.relative_to(site).with_suffix("").name.replace(".", "-") + ".png"
        browser.save_screenshot(str(SCREENSHOTS / name))
        results[rel] = report
    print(f"browser: {len(results)} pages in {time.monotonic() - start:.0f} s")
    return results


def failures(visits: dict[str, dict], check) -> list[str]:
    return [f"{rel}: {problem}" for rel, r in visits.items() for problem in check(rel, r)]


def test_browser_no_console_errors(visits):
    bad = failures(visits, lambda rel, r: r["console"] + ([r["error"]] if "error" in r else []))
    assert not bad, "console errors:\n" + "\n".join(bad)


def test_browser_loads_nothing_from_the_internet(visits):
    def offsite(rel, r):
        return [
            u
            for u in r["urls"]
            if not (
                u.startswith(("data:", "blob:")) or urllib.parse.urlsplit(u).hostname == "127.0.0.1"
            )
        ]

    bad = failures(visits, offsite)
    assert not bad, "requests that left 127.0.0.1:\n" + "\n".join(bad)
    assert sum(len(r["urls"]) for r in visits.values()) > len(visits), "no requests recorded"


def test_browser_every_request_succeeds(visits, server):
    def broken(rel, r):
        # Chrome asks for /favicon.ico by itself; the book has no icon.
        errors = [(u, s) for u, s in r["status"].items() if s >= 400]
        return r["failed"] + [f"{u}: HTTP {s}" for u, s in errors if u != favicon]

    favicon = server + "favicon.ico"

    bad = failures(visits, broken)
    assert not bad, "failed requests:\n" + "\n".join(bad)


def test_browser_math_is_rendered(visits):
    def math(rel, r):
        if r["mathSource"] and not r["mathRendered"]:
            return [f"{r['mathSource']} math elements, none rendered by MathJax"]
        return [f"{r['mathErrors']} MathJax errors"] if r["mathErrors"] else []

    bad = failures(visits, math)
    assert not bad, "\n".join(bad)
    assert any(r["mathRendered"] for r in visits.values()), "no page rendered any math"


def test_browser_images_load(visits):
    bad = failures(visits, lambda rel, r: [f"image not loaded: {src}" for src in r["badImages"]])
    assert not bad, "\n".join(bad)


def test_browser_animations_and_widgets_render(visits):
    def dynamic(rel, r):
        out = []
        if r["animationsRunning"] < r["animations"]:
            out.append(f"{r['animations']} animations, {r['animationsRunning']} showing a frame")
        if r["widgetsRendered"] < r["widgetViews"]:
            out.append(f"{r['widgetViews']} widgets, {r['widgetsRendered']} rendered")
        return out

    bad = failures(visits, dynamic)
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_browser_chapter_links(visits, server, nb):
    """Twin page, Colab, Binder and the .ipynb download, as the reader's browser sees them."""
    rel = nb.relative_to(ROOT).with_suffix(".html").as_posix()
    r = visits[rel]
    twin = server + nb.parent.relative_to(ROOT).as_posix() + "/" + twin_name(nb)
    assert twin in r["links"], f"no link to {twin}"
    assert twin.removeprefix(server) in visits, "the twin page was not built"
    repo = CONFIG["repository"]["url"].removeprefix("https://github.com/")
    path = nb.relative_to(ROOT).as_posix()
    colab = f"https://colab.research.google.com/github/{repo}/blob/main/{path}"
    assert colab in r["links"], "no Colab link to this notebook"
    binder = [u for u in r["links"] if u.startswith("https://mybinder.org/v2/gh/")]
    assert binder and urllib.parse.unquote(binder[0]).endswith(f"urlpath=tree/{path}")
    download = server + "_sources/" + path
    assert download in r["download"], f"no .ipynb download button ({r['download']})"
    with urllib.request.urlopen(download) as got:
        assert json.loads(got.read())["cells"], "the downloaded notebook is empty"


def test_browser_screenshots_of_every_chapter_page(visits):
    shots = {p.name for p in SCREENSHOTS.glob("*.png")}
    expected = {nb.with_suffix("").name.replace(".", "-") + ".png" for nb in NOTEBOOKS}
    assert expected <= shots, f"missing screenshots: {expected - shots}"


@pytest.mark.parametrize("word", ["codificación", "dispersa", "energía"])
def test_browser_search_finds_spanish_pages(site, server, browser, word):
    """Searching a Spanish word lists the Spanish pages that contain it."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server + "search.html?q=" + urllib.parse.quote(word))
    WebDriverWait(browser, 20).until(lambda d: d.execute_script(SEARCH_DONE))
    hits = browser.execute_script(
        "return [...document.querySelectorAll('#search-results li a')].map(a => a.href)"
    )
    found = {urllib.parse.urlsplit(h).path.lstrip("/") for h in hits}
    pattern = re.compile(rf"\b{word}\b", re.I)
    spanish = [
        p.relative_to(site).as_posix()
        for p in html_pages(site)
        if p.name.endswith(".es.html")
        and pattern.search((soup(p).find("main") or soup(p)).get_text())
    ]
    assert found, f"searching '{word}' found nothing"
    assert set(spanish) <= found, f"'{word}' is in {spanish}, the search found {sorted(found)}"


# The summary paragraph appears when the search starts; its text is set when results are done.
SEARCH_DONE = """
const p = document.querySelector('#search-results p.search-summary');
return !!p && /Search finished|did not match/.test(p.textContent);
"""


def search_hits(browser, server, word: str) -> set[str]:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(server + "search.html?q=" + urllib.parse.quote(word))
    WebDriverWait(browser, 20).until(lambda d: d.execute_script(SEARCH_DONE))
    hits = browser.execute_script(
        "return [...document.querySelectorAll('#search-results li a')].map(a => a.href)"
    )
    return {urllib.parse.urlsplit(h).path.lstrip("/") for h in hits}


@pytest.mark.parametrize(("plain", "accented"), [("codificacion", "codificación")])
def test_browser_search_ignores_accents(site, server, browser, plain, accented):
    """Readers often type Spanish without accents: both spellings find the same pages."""
    with_accent = search_hits(browser, server, accented)
    assert with_accent, f"searching '{accented}' found nothing"
    assert search_hits(browser, server, plain) == with_accent


# --- on a phone (390 px) --------------------------------------------------------------------

PHONE = (390, 844)
OPEN_STATE = """
const dialog = document.querySelector(arguments[0]);
return !!dialog && dialog.open;
"""


@pytest.fixture()
def phone(browser):
    """The same browser at a phone's width; back to 1280 px afterwards."""
    browser.set_window_size(*PHONE)
    yield browser
    browser.set_window_size(1280, 1024)


def test_one_pair_of_sidebar_buttons(site):
    """pydata-sphinx-theme 0.17's top navbar repeats the sidebar buttons, and the themes bind
    only the first of each class: _ext/templates/sections/header.html removes that navbar."""
    for nb in NOTEBOOKS:
        html = soup(site / nb.relative_to(ROOT).with_suffix(".html"))
        for cls in ("primary-toggle", "secondary-toggle"):
            assert len(html.select(f"button.{cls}")) == 1, f"{nb.name}: two .{cls} buttons"


@pytest.mark.parametrize("nb", [NOTEBOOKS[-2], NOTEBOOKS[-1]], ids=lambda p: p.name)
def test_browser_phone_menu_and_contents_open(site, server, phone, nb):
    """At 390 px, ☰ opens the book's table of contents and the contents button the page's."""
    from selenium.webdriver.common.by import By

    for button, dialog in [
        ("button.primary-toggle", "#pst-primary-sidebar-modal"),
        ("button.secondary-toggle", "#pst-secondary-sidebar-modal"),
    ]:
        phone.get(server + nb.relative_to(ROOT).with_suffix(".html").as_posix())
        visible = [b for b in phone.find_elements(By.CSS_SELECTOR, button) if b.is_displayed()]
        assert len(visible) == 1, f"{len(visible)} visible {button} at 390 px"
        visible[0].click()
        time.sleep(0.5)
        assert phone.execute_script(OPEN_STATE, dialog), f"{button} did not open {dialog}"
        links = phone.execute_script(
            "return [...document.querySelectorAll(arguments[0] + ' a')]"
            ".filter(a => a.getBoundingClientRect().width > 0).length",
            dialog,
        )
        assert links >= 2, f"{dialog} shows {links} links"


def test_browser_pages_fit_a_phone(site, server, phone):
    """At 390 px no page scrolls sideways (a display equation or a code cell may scroll
    inside its own box). Screenshots of every page go to artifacts/screenshots/*-390.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    wide = []
    for path in html_pages(site):
        phone.get(server + path.relative_to(site).as_posix())
        width = phone.execute_script("return document.documentElement.scrollWidth")
        if width > PHONE[0]:
            wide.append(f"{path.name}: {width} px")
        name = path.with_suffix("").name.replace(".", "-") + "-390.png"
        phone.save_screenshot(str(SCREENSHOTS / name))
    assert not wide, f"pages wider than {PHONE[0]} px: {wide}"


KNOBS = {"01", "02", "08"}  # chapters with a knob for the reader to turn (λ, λ, β)

# Move every lib.plots.slider on the page to its first and last frame, as a reader would.
MOVE_SLIDERS = """
const result = [];
for (const k of document.querySelectorAll('.lib-slider')) {
  const input = k.querySelector('input[type=range]');
  const shown = () => [...k.querySelectorAll('img')].findIndex(i => i.offsetParent !== null);
  const before = shown();
  const moves = [];
  for (const v of [input.min, input.max]) {
    input.value = v;
    input.dispatchEvent(new Event('input', {bubbles: true}));
    moves.push([Number(v), shown(), k.querySelector('output').value]);
  }
  result.push({before: before, moves: moves, frames: k.querySelectorAll('img').length});
}
return result;
"""


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_browser_sliders_move_the_figure_without_a_kernel(site, server, browser, nb):
    """Each slider (lib.plots.slider) shows one frame, and moving it shows the frame it points
    at, on the static page. No ipywidgets control is left that cannot move without a kernel."""
    html = page(site, nb)
    assert "application/vnd.jupyter.widget-view+json" not in html, "an ipywidgets widget"
    browser.get(server + nb.relative_to(ROOT).with_suffix(".html").as_posix())
    sliders = browser.execute_script(MOVE_SLIDERS)
    if nb.name[:2] in KNOBS:
        assert sliders, f"{nb.name} lets the reader turn a knob: it needs a slider"
    for s in sliders:
        assert s["frames"] >= 2 and s["before"] >= 0, f"a slider shows no frame: {s}"
        for value, shown, label in s["moves"]:
            assert shown == value and label, f"slider at {value} shows frame {shown}: {s}"


# --- accessibility ------------------------------------------------------------------------

AXE = next((ROOT / "_vendor").glob("axe-core-*/axe.min.js"), None)
RUN_AXE = """
const done = arguments[arguments.length - 1];
axe.run(document, {resultTypes: ['violations']}).then(
  r => done(r.violations.filter(v => ['serious', 'critical'].includes(v.impact))
    .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(' '))}`)),
  e => done(['axe failed: ' + e]));
"""


def test_browser_no_serious_accessibility_violation(site, server, browser):
    """axe-core (vendored from npm by the Makefile) on every page: no serious or critical
    violation of the WCAG rules it checks (missing alt text, labels, contrast, ARIA, ...)."""
    assert AXE, "axe-core is not vendored: run `make test`"
    script = AXE.read_text(encoding="utf-8")
    found = {}
    for path in html_pages(site):
        browser.get(server + path.relative_to(site).as_posix())
        browser.execute_script(script)
        violations = browser.execute_async_script(RUN_AXE)
        if violations:
            found[path.relative_to(site).as_posix()] = violations
    assert not found, "\n".join(f"{p}: {v}" for p, v in found.items())


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_has_alt_text(site, nb):
    """A figure's alt text says what it shows, in the page's language: the cell's metadata
    ``{"mystnb": {"image": {"alt": "…"}}}`` (myst-nb's default is the image's file name)."""
    html = BeautifulSoup(page(site, nb), "html.parser")
    bad = [
        img.get("alt", "")[:60]
        for img in html.select("div.cell_output img")
        if not img.get("alt") or re.search(r"\.(png|svg|jpe?g)$", img.get("alt", ""))
    ]
    assert not bad, f"{len(bad)} figures without alt text: {bad[:3]}"


# --- weight ---------------------------------------------------------------------------------

WEIGHT_REPORT = ROOT / "artifacts" / "page-weight.txt"
MAX_PAGE_BYTES = 8_000_000


def page_weight(site: pathlib.Path, path: pathlib.Path) -> tuple[int, list[str]]:
    """Bytes a first visit transfers: the page, and the local scripts, style sheets and images
    it references (MathJax's fonts and lazily loaded parts aside); and the scripts' names."""
    html = soup(path)
    refs = [t.get("src") for t in html.select("script[src], img[src]")]
    refs += [t.get("href") for t in html.select('link[rel="stylesheet"]')]
    total, scripts = path.stat().st_size, []
    for ref in refs:
        if not ref or ref.startswith(("data:", "http:", "https:")):
            continue
        target = (path.parent / ref.split("?")[0]).resolve()
        if target.is_file():
            total += target.stat().st_size
            if target.suffix == ".js":
                scripts.append(target.name)
    return total, scripts


def test_page_weight_and_no_unused_scripts(site):
    """Each chapter page's weight goes to artifacts/page-weight.txt; no page loads the widget
    manager without widgets, nor sphinx-thebe's script (the book has no live-code button)."""
    lines, problems = [], []
    for nb in NOTEBOOKS:
        path = site / nb.relative_to(ROOT).with_suffix(".html")
        total, scripts = page_weight(site, path)
        lines.append(f"{nb.with_suffix('').name:40s} {total / 1e6:6.2f} MB")
        widgets = "widget-state+json" in path.read_text(encoding="utf-8")
        if not widgets and any("embed-amd" in s or s == "require.js" for s in scripts):
            problems.append(f"{nb.name}: widget scripts without widgets")
        if "sphinx-thebe.js" in scripts:
            problems.append(f"{nb.name}: sphinx-thebe.js")
        if total > MAX_PAGE_BYTES:
            problems.append(f"{nb.name}: {total / 1e6:.1f} MB")
    WEIGHT_REPORT.parent.mkdir(parents=True, exist_ok=True)
    WEIGHT_REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert not problems, problems


# --- the column at 1280 px ------------------------------------------------------------------

COLUMN = """
const over = sel => [...document.querySelectorAll(sel)]
  .filter(e => e.scrollWidth > e.clientWidth + 1)
  .map(e => `${e.scrollWidth - e.clientWidth} px: ${e.textContent.trim().slice(0, 50)}`);
const shrunk = [...document.querySelectorAll('div.cell_output img')]
  .filter(i => i.offsetParent !== null && i.naturalWidth > 0)
  .filter(i => i.getBoundingClientRect().width < 0.98 * i.naturalWidth)
  .map(i => `${Math.round(100 * i.getBoundingClientRect().width / i.naturalWidth)} %`);
return {code: over('div.cell_input pre'), output: over('div.cell_output pre'), shrunk: shrunk};
"""


def test_browser_code_output_and_figures_fit_the_column(site, server, browser):
    """At 1280 px no code cell or printed output scrolls sideways, and no figure is shrunk to
    fit the column (figures are drawn for it, so their text keeps its size)."""
    browser.set_window_size(1280, 1024)
    bad = []
    for nb in NOTEBOOKS:
        browser.get(server + nb.relative_to(ROOT).with_suffix(".html").as_posix())
        r = browser.execute_script(COLUMN)
        bad += [f"{nb.name} {kind}: {what}" for kind, items in r.items() for what in items]
    assert not bad, "\n".join(bad[:40])


ENGLISH = re.compile(r"\b(the|and|with|of|from|than|holds|training|digits|filters|step|model)\b")


@pytest.mark.parametrize(
    "nb", [nb for nb in NOTEBOOKS if nb.name.endswith(".es.ipynb")], ids=lambda p: p.name
)
def test_spanish_pages_print_spanish(site, nb):
    """The printed output of a Spanish page (tables, checks, verdicts) has no English words."""
    html = BeautifulSoup(page(site, nb), "html.parser")
    text = "\n".join(pre.get_text() for pre in html.select("div.cell_output pre"))
    text += "\n".join(t.get_text() for t in html.select("div.cell_output table"))
    found = sorted({m.group(0) for m in ENGLISH.finditer(text)})
    assert not found, f"English words in the printed output: {found}"
