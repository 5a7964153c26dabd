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

from conftest import NOW, ROOT, running_server

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


# --- Dates, sources, completions that go to an article, feeds and downloads ------------------

@pytest.fixture(scope="module")
def dated_base(dated_home):
    """A server of the seeds and the dated articles, its clock set so that some are recent."""
    with running_server(dated_home, env={"VNSEARCH_NOW": NOW}, args=("--quiet",)) as url:
        yield url


def test_recent_articles_read_like_a_news_site(browser, dated_base, artifacts):
    from selenium.webdriver.common.by import By

    browser.get(dated_base + "?q=tham+nhung&sort=date")
    _wait_for(browser, ".hit")
    hits = browser.find_elements(By.CSS_SELECTOR, ".hit")
    times = [hit.find_element(By.TAG_NAME, "time") for hit in hits[:7]]
    assert [t.text for t in times] == ["25 phút trước", "2 giờ trước", "Hôm qua, 08:30", "3 ngày trước",
                                       "01/03/2024", "15/12/2020", "02/05/2019"]
    assert times[0].get_attribute("title") == "Thứ Sáu, 15/03/2024, 09:35"  # the full date on hover
    assert times[0].get_attribute("datetime") == "2024-03-15T09:35:00"
    source = hits[0].find_element(By.CSS_SELECTOR, ".source")
    assert source.text == "Thông tấn xã Việt Nam" and source.get_attribute("title") == "TTXVN"
    facets = browser.find_element(By.CSS_SELECTOR, ".filters").get_attribute("textContent")
    assert "Báo Đồng Khởi" in facets and "Báo Hà Giang" in facets and "BDK.VN" not in facets
    assert "Năm" in facets and "Không rõ ngày" in facets
    assert "2 bài không rõ ngày đăng được xếp cuối." in browser.find_element(By.CSS_SELECTOR, ".tools").text
    # Follow the search, or take its results away.
    feed = browser.find_element(By.CSS_SELECTOR, 'link[rel=alternate][type="application/atom+xml"]')
    assert feed.get_attribute("href") == dated_base + "feed?q=tham+nhung"
    assert browser.find_element(By.CSS_SELECTOR, ".take-away .feed").get_attribute("href") == feed.get_attribute("href")
    downloads = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, ".take-away a[download]")]
    assert downloads == [dated_base + "api/search.csv?q=tham+nhung&sort=date",
                         dated_base + "api/search.jsonl?q=tham+nhung&sort=date"]
    browser.save_screenshot(str(artifacts / "dates-relative-and-sources.png"))

    browser.set_window_size(500, 1000)
    try:
        browser.get(dated_base + "?q=tham+nhung&sort=date")
        _wait_for(browser, ".hit")
        assert browser.find_elements(By.CSS_SELECTOR, ".hit time")[0].text == "25 phút trước"
        browser.save_screenshot(str(artifacts / "dates-phone.png"))
    finally:
        browser.set_window_size(1280, 1000)

    browser.get(dated_base + "?q=tham+nhung&sort=date")
    _wait_for(browser, ".hit-title a").click()
    _wait_for(browser, "article h1")
    meta = browser.find_element(By.CSS_SELECTOR, "article .meta")
    assert meta.find_element(By.TAG_NAME, "time").text == "Thứ Sáu, 15/03/2024, 09:35"  # the full date
    assert meta.find_element(By.CSS_SELECTOR, ".source").text == "Thông tấn xã Việt Nam"
    browser.save_screenshot(str(artifacts / "article-full-date.png"))
    assert _console_errors(browser) == []


def test_old_archives_show_their_dates(browser, dated_base, artifacts):
    from selenium.webdriver.common.by import By

    browser.get(dated_base + "?q=chi+thi+35&year=2021")
    _wait_for(browser, ".hit")
    assert [t.text for t in browser.find_elements(By.CSS_SELECTOR, ".hit time")] == ["14/01/2021"]
    assert browser.find_element(By.CSS_SELECTOR, ".hit .source").text == "Báo Hà Giang"
    browser.save_screenshot(str(artifacts / "dates-archive.png"))


def test_undated_results_offer_no_date_sorting(browser, dated_base, artifacts):
    from selenium.webdriver.common.by import By

    browser.get(dated_base + "?q=tham+nhung&source=QĐND")
    _wait_for(browser, ".hit")
    assert not browser.find_elements(By.CSS_SELECTOR, ".sort")
    assert "Năm" not in browser.find_element(By.CSS_SELECTOR, ".filters").get_attribute("textContent")
    assert browser.find_element(By.CSS_SELECTOR, ".undated").text == "Bài này không ghi ngày đăng."
    browser.save_screenshot(str(artifacts / "undated.png"))


def test_a_title_in_the_completions_goes_to_its_article(browser, dated_base, artifacts):
    from selenium.webdriver.common.by import By

    browser.get(dated_base)
    box = browser.find_element(By.CSS_SELECTOR, "input#q")
    box.send_keys("quoc hoi")
    _wait_for(browser, "#q-suggestions li.title a")
    phrases = [o.text for o in browser.find_elements(By.CSS_SELECTOR, "#q-suggestions [role=option]:not(.title)")]
    titles = browser.find_elements(By.CSS_SELECTOR, "#q-suggestions li.title a")
    assert phrases[0] == "Quốc hội"
    assert "Bài viết" in browser.find_element(By.CSS_SELECTOR, "#q-suggestions li.group").get_attribute("textContent")
    assert titles[0].text == "Quốc hội thảo luận dự án Luật Đất đai sửa đổi"
    browser.save_screenshot(str(artifacts / "suggestions-phrases-and-titles.png"))
    titles[0].click()
    _wait_for(browser, "article h1")
    assert browser.current_url == dated_base + "article/d-gio"
    # From the keyboard too: down past the phrase to the title, and Enter.
    from selenium.webdriver.common.keys import Keys

    browser.get(dated_base)
    box = browser.find_element(By.CSS_SELECTOR, "input#q")
    box.send_keys("quoc hoi")
    _wait_for(browser, "#q-suggestions li.title a")
    box.send_keys(Keys.ARROW_DOWN, Keys.ARROW_DOWN, Keys.ENTER)
    _wait_for(browser, "article h1")
    assert browser.current_url == dated_base + "article/d-gio"
    assert _console_errors(browser) == []
