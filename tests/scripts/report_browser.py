#!/usr/bin/env python3
"""Open a Beacon report in headless Chromium (through chromedriver) and describe what rendered.

    report_browser.py REPORT.html --screenshot OUT.png

Prints one JSON object on stdout for the calling test to check:
  charts:    {svg id: [width, height]} for every <svg id=...> as laid out by the browser
  panels:    ids of the panels (<article id="panel-...">)
  tables:    {table id: number of body rows}
  console:   browser console entries of level WARNING or SEVERE
  resources: URLs the page fetched (performance entries; a self-contained report has none)
  title:     the document title
  height:    the page height in CSS pixels
Writes a full-page screenshot to OUT.png. Chromium and chromedriver are Debian's (/usr/bin), or
BEACON_CHROMIUM / BEACON_CHROMEDRIVER. The flags keep Chromium off the network: this machine's
network is closed, and a headless browser as root needs --no-sandbox.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

WIDTH = 1280


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("--screenshot", required=True)
    args = ap.parse_args()

    profile = tempfile.mkdtemp(prefix="beacon-chromium-")
    opts = Options()
    opts.binary_location = os.environ.get("BEACON_CHROMIUM", "/usr/bin/chromium")
    for flag in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},900",
    ]:
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(
        executable_path=os.environ.get("BEACON_CHROMEDRIVER", "/usr/bin/chromedriver")
    )
    driver = webdriver.Chrome(service=service, options=opts)
    try:
        driver.set_page_load_timeout(60)
        driver.get("file://" + os.path.abspath(args.report))
        state = driver.execute_script(
            """
            const charts = {};
            for (const s of document.querySelectorAll('svg[id]')) {
              const r = s.getBoundingClientRect();
              charts[s.id] = [r.width, r.height];
            }
            const tables = {};
            for (const t of document.querySelectorAll('table[id]')) {
              tables[t.id] = t.querySelectorAll('tbody tr').length;
            }
            return {
              charts,
              tables,
              panels: Array.from(document.querySelectorAll('article[id^="panel-"]')).map(a => a.id),
              resources: performance.getEntriesByType('resource').map(e => e.name),
              title: document.title,
              height: document.documentElement.scrollHeight,
            };
            """
        )
        console = [
            {"level": e.get("level"), "message": e.get("message")}
            for e in driver.get_log("browser")
            if e.get("level") in ("WARNING", "SEVERE")
        ]
        # A full-page screenshot: make the window as tall as the page, then capture it.
        driver.set_window_size(WIDTH, min(int(state["height"]) + 40, 20000))
        os.makedirs(os.path.dirname(os.path.abspath(args.screenshot)), exist_ok=True)
        if not driver.save_screenshot(args.screenshot):
            print("cannot write the screenshot", file=sys.stderr)
            return 1
        state["console"] = console
        print(json.dumps(state))
        return 0
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
