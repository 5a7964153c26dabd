"""A real browser on a real server: headless Chromium drives the page `vnsearch serve` serves.

It checks what the Flask test client cannot: that the page works as rendered by a
browser under its Content-Security-Policy (our script runs, nothing is blocked), and
it saves screenshots a person can look at.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from conftest import ROOT, running_server

SEED = "000_5c7e6b10f1f35871"
SEED_CT = "004_daafaec3709b13e9"
# Without these Chromium looks up updates, sync and metrics, and hangs on a closed network.
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--window-size=1280,1000", "--lang=vi",
]
WAIT_SECONDS = 30


def _browser_or_reason() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    missing = [name for name in ("chromium", "chromedriver") if not shutil.which(name)]
    if missing:
        return f"{' and '.join(missing)} not found (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _browser_or_reason()
    if reason:
        # CI installs Chromium (.ci/run): there a missing browser is a failure, not a skip.
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser test must run in CI: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="vnsearch-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(WAIT_SECONDS)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """The server as on a fresh machine: no index yet, so it indexes the bundled samples."""
    with running_server(tmp_path_factory.mktemp("fresh") / "index") as url:
        yield url


@pytest.fixture(scope="module")
def artifacts() -> Path:
    folder = Path(os.environ.get("VNSEARCH_ARTIFACTS") or ROOT / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    if folder == ROOT / "tests" / "artifacts":
        (folder / ".gitignore").write_text("*\n")  # screenshots are not source
    return folder


def _wait_for(driver, css: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_SECONDS).until(EC.presence_of_element_located((By.CSS_SELECTOR, css)))


def _console_errors(driver) -> list[str]:
    """Errors the page logged, such as a script or style the CSP blocked."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def test_search_by_typing_then_read_the_article(browser, base, artifacts):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(base)
    box = browser.find_element(By.CSS_SELECTOR, "input#q")
    assert browser.find_element(By.CSS_SELECTOR, "label[for=q]").get_attribute("textContent").strip()
    box.send_keys("ho thi hoang yen")
    # Our script (allowed by the CSP) offers completions from /api/suggest while typing.
    suggestion = _wait_for(browser, "#q-suggestions [role=option]")
    assert "Hồ Thị Hoàng Yến" in [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#q-suggestions [role=option]")]
    assert suggestion.is_displayed()
    browser.save_screenshot(str(artifacts / "suggestions.png"))
    box.send_keys(Keys.ESCAPE, Keys.ENTER)

    _wait_for(browser, ".hit")
    hit = browser.find_elements(By.CSS_SELECTOR, ".hit")[0]
    marks = [m.text for m in hit.find_elements(By.CSS_SELECTOR, ".snippet mark")]
    assert "Hồ Thị Hoàng Yến" in marks
    link = hit.find_element(By.CSS_SELECTOR, ".hit-title a")
    assert f"/article/{SEED}?" in link.get_attribute("href")
    assert "Có phải bạn muốn tìm" in browser.find_element(By.CSS_SELECTOR, ".did-you-mean").text
    browser.save_screenshot(str(artifacts / "search-ho-thi-hoang-yen.png"))

    title = link.text
    link.click()
    heading = _wait_for(browser, "article h1")
    assert heading.text == title
    assert "Hồ Thị Hoàng Yến" in [m.text for m in browser.find_elements(By.CSS_SELECTOR, ".body mark")]
    assert browser.find_elements(By.CSS_SELECTOR, ".related li a")
    browser.save_screenshot(str(artifacts / "article.png"))
    assert _console_errors(browser) == []


def test_directive_search_puts_the_seed_articles_first(browser, base, artifacts):
    from selenium.webdriver.common.by import By

    browser.get(base + "?q=chi+thi+35")
    _wait_for(browser, ".hit")
    links = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, ".hit-title a")]
    assert {link.split("/article/")[1].split("?")[0] for link in links[:2]} == {SEED, SEED_CT}
    first_marks = [m.text for m in browser.find_elements(By.CSS_SELECTOR, ".hit")[0].find_elements(By.TAG_NAME, "mark")]
    assert any(text.lower().startswith("chỉ thị") for text in first_marks)
    browser.save_screenshot(str(artifacts / "search-chi-thi-35.png"))
    browser.set_window_size(500, 1000)  # as narrow as headless Chromium goes: the phone layout
    try:
        browser.get(base + "?q=chi+thi+35")
        _wait_for(browser, ".hit")
        assert not browser.find_element(By.CSS_SELECTOR, ".filters details").get_attribute("open")
        browser.save_screenshot(str(artifacts / "search-phone.png"))
    finally:
        browser.set_window_size(1280, 1000)
    assert _console_errors(browser) == []
