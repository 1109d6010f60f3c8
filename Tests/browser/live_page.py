#!/usr/bin/python3
"""Drives the master's live page in Debian's headless chromium (selenium + chromium-driver).

    live_page.py URL TOKEN SCREENSHOT

With the page open: start and stop without the token (both must be refused), then a start with
the token; then the page is watched until the run ends, a stop without the token tried on the way. Prints one JSON object: what the page
answered, the request counts it showed, each chart's series and point counts, the slaves'
table, the stored runs' list, the browser's console and its failed loads. Bounded: gives up after 90 s.
"""
import json
import re
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

url, token, screenshot = sys.argv[1:4]
options = Options()
for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1600"):
    options.add_argument(flag)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
deadline = time.monotonic() + 90


def text(element_id):
    return driver.find_element(By.ID, element_id).text


def answer(button):
    """Clicks a control button and returns what the page says back."""
    driver.execute_script("document.getElementById('control-answer').textContent = ''")
    driver.find_element(By.ID, button).click()
    while time.monotonic() < deadline:
        said = text("control-answer")
        if said:
            return said
        time.sleep(0.05)
    return None


def series(chart):
    found = {}
    for path in driver.find_elements(By.CSS_SELECTOR, '[data-chart="%s"] path' % chart):
        found[path.get_attribute("data-series")] = int(path.get_attribute("data-points"))
    return found


result = {}
try:
    driver.get(url)
    result["refusedStart"] = answer("start")
    result["refusedStop"] = answer("stop")
    time.sleep(1.5)
    result["titleAfterRefusals"] = text("live-title")
    driver.find_element(By.ID, "token").send_keys(token)
    result["started"] = answer("start")
    counts = []
    while time.monotonic() < deadline:
        title = text("live-title")
        shown = text("requests")
        if re.fullmatch(r"\d+", shown) and (not counts or counts[-1] != int(shown)):
            counts.append(int(shown))
            if "refusedStopDuring" not in result and counts[-1] > 0:
                # The run goes on: a stop without the token is refused.
                driver.find_element(By.ID, "token").clear()
                result["refusedStopDuring"] = answer("stop")
        if re.search(r"— (completed|aborted|partial|failed)", title):
            break
        time.sleep(0.2)
    time.sleep(1.5)  # one more event: the count must stay where it ended
    result["title"] = text("live-title")
    result["counts"] = counts
    result["final"] = int(text("requests"))
    result["charts"] = {chart: series(chart) for chart in ("live-rps", "live-latency", "live-status")}
    result["slaves"] = {
        row.get_attribute("data-slave"): [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        for row in driver.find_elements(By.CSS_SELECTOR, "#live-slaves tbody tr")
    }
    result["statusCodes"] = text("status-codes")
    result["runs"] = [[cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
                      for row in driver.find_elements(By.CSS_SELECTOR, "#runs tbody tr")]
    driver.save_screenshot(screenshot)
    logged = driver.get_log("browser")
    # Failed loads (the refused starts and stops) apart from the page's own messages.
    result["console"] = [entry["message"] for entry in logged if entry.get("source") != "network"]
    result["network"] = [entry["message"] for entry in logged if entry.get("source") == "network"]
finally:
    driver.quit()
print(json.dumps(result))
