"""The HTML preview in a real headless browser: Debian's Chromium driven through its chromedriver by Selenium.

Nothing is downloaded: Selenium is given both paths, so Selenium Manager never runs (selenium
``webdriver/common/driver_finder.py``: "Skipping Selenium Manager; path to driver specified"). Install the
browser with ``scripts/provision-browser.sh``. Without Chromium these tests skip, except under ``CI=true``,
where a skip is a failure.

Run as a script to regenerate the README's screenshot of the example campaign::

    .venv/bin/python tests/test_html_browser.py docs/preview.png
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for the script form: the shared doc builders
from test_html_preview import example_doc

from campaign.plan.html_preview import to_html

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# Background networking is refused on these machines; these flags keep Chromium from trying.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1400", "--force-device-scale-factor=1"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _missing() -> str | None:
    """Why the browser cannot run here, or None."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not path.exists():
            return f"{path} is missing: run scripts/provision-browser.sh"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "the selenium package is missing: pip install selenium (test extras)"
    return None


def start_browser(profile: Path) -> Any:
    """A headless Chromium session with a fresh profile in ``profile``, logging the console."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot be skipped under CI: {reason}")
        pytest.skip(reason)
    profile = Path(tempfile.mkdtemp(prefix="campaign-chromium-"))
    driver = start_browser(profile)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def doc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return example_doc(tmp_path_factory.mktemp("campaign"))


@pytest.fixture
def page(browser: Any, doc: dict[str, Any], tmp_path: Path) -> Any:
    """The page freshly loaded from a file (no server), with the console log emptied before the load."""
    path = tmp_path / "preview.html"
    path.write_text(to_html(doc), encoding="utf-8")
    browser.get_log("browser")  # reading the log clears it
    browser.get(path.as_uri())
    return browser


def visible_cards(driver: Any) -> list[str]:
    """data-post-id of every card the browser actually displays."""
    from selenium.webdriver.common.by import By

    return [c.get_attribute("data-post-id") for c in driver.find_elements(By.CSS_SELECTOR, "article.card")
            if c.is_displayed()]


def shown_count(driver: Any) -> int:
    from selenium.webdriver.common.by import By

    return int(driver.find_element(By.ID, "shown-count").text)


def test_page_loads_with_no_console_errors(page: Any, doc: dict[str, Any]) -> None:
    assert page.title.startswith("Campaign preview: ")
    assert len(visible_cards(page)) == len(doc["posts"]) == shown_count(page)
    problems = [e for e in page.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert problems == []


def test_channel_filter_shows_only_the_checked_channels(page: Any, doc: dict[str, Any]) -> None:
    from selenium.webdriver.common.by import By

    per_channel = Counter(p["channel"] for p in doc["posts"])
    channel = min(per_channel, key=lambda c: (per_channel[c], c))  # the smallest, so the change is visible
    page.find_element(By.ID, "channels-none").click()
    assert visible_cards(page) == [] and shown_count(page) == 0
    page.find_element(By.CSS_SELECTOR, f"input[name=channel][value='{channel}']").click()
    shown = visible_cards(page)
    assert len(shown) == per_channel[channel] == shown_count(page)
    assert sorted(shown) == sorted(p["id"] for p in doc["posts"] if p["channel"] == channel)
    # Days with no card left are hidden too.
    days = {p["campaign_time"][:10] for p in doc["posts"] if p["channel"] == channel}
    shown_days = {s.get_attribute("data-day") for s in page.find_elements(By.CSS_SELECTOR, "section.day")
                  if s.is_displayed()}
    assert shown_days == days
    page.find_element(By.ID, "channels-all").click()
    assert len(visible_cards(page)) == len(doc["posts"])


def test_day_filter_and_calendar_show_one_day(page: Any, doc: dict[str, Any]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    per_day = Counter(p["campaign_time"][:10] for p in doc["posts"])
    day = sorted(per_day)[-1]
    Select(page.find_element(By.ID, "filter-day")).select_by_value(day)
    on_day = [p["id"] for p in doc["posts"] if p["campaign_time"][:10] == day]
    assert sorted(visible_cards(page)) == sorted(on_day)
    assert shown_count(page) == per_day[day] < len(doc["posts"])
    # Day and channel filters combine.
    channel = next(p["channel"] for p in doc["posts"] if p["campaign_time"][:10] == day)
    for box in page.find_elements(By.CSS_SELECTOR, "input[name=channel]"):
        if box.get_attribute("value") != channel:
            box.click()
    expected = [p["id"] for p in doc["posts"] if p["campaign_time"][:10] == day and p["channel"] == channel]
    assert sorted(visible_cards(page)) == sorted(expected)
    page.find_element(By.ID, "channels-all").click()
    Select(page.find_element(By.ID, "filter-day")).select_by_value("")
    # A day in the calendar filters to it; a second click shows every day again.
    first = sorted(per_day)[0]
    button = page.find_element(By.CSS_SELECTOR, f"button.day-link[data-day='{first}']")
    button.click()
    assert shown_count(page) == per_day[first] == len(visible_cards(page))
    page.execute_script("arguments[0].click()", button)  # the sticky filter bar may now cover it
    assert shown_count(page) == len(doc["posts"])


def test_each_card_shows_exactly_the_posts_text(page: Any, doc: dict[str, Any]) -> None:
    rendered = page.execute_script("""
        return Array.from(document.querySelectorAll("article.card")).map(function (card) {
          return [card.dataset.postId,
                  Array.from(card.querySelectorAll(".text")).map(function (t) { return t.textContent; }),
                  Array.from(card.querySelectorAll(".text")).map(function (t) { return t.innerText; })];
        });""")
    by_id = {post_id: (content, shown) for post_id, content, shown in rendered}
    assert len(by_id) == len(doc["posts"])
    for post in doc["posts"]:
        content, shown = by_id[post["id"]]
        assert "\n\n".join(content) == post["text"]
        assert shown == post["parts"]  # what a reader sees (white space kept), not only the DOM's text


def test_screenshot_is_produced(page: Any, tmp_path: Path) -> None:
    target = tmp_path / "preview.png"
    assert page.save_screenshot(str(target))
    data = target.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000


def main(argv: list[str]) -> int:
    """Write a screenshot of the example campaign's page to argv[1] (default docs/preview.png)."""
    reason = _missing()
    if reason:
        print(f"cannot take the screenshot: {reason}", file=sys.stderr)
        return 1
    target = Path(argv[1] if len(argv) > 1 else "docs/preview.png").resolve()
    os.chdir(Path(__file__).resolve().parent.parent)  # the page names the campaign file from the project
    with tempfile.TemporaryDirectory(prefix="campaign-preview-") as tmp:
        page = Path(tmp) / "preview.html"
        page.write_text(to_html(example_doc(Path(tmp))), encoding="utf-8")
        driver = start_browser(Path(tmp) / "profile")
        try:
            driver.get(page.as_uri())
            target.parent.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(target))
        finally:
            driver.quit()
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
