"""A person fills in the example contact form in headless Chromium: consent, page view, form post, thank-you page.

The page (docs/examples/contact-form.html) is served from 127.0.0.1 by a small HTTP server,
with its form and snippet pointing at a real ingest process; the touchpoints must reach
Kafka, the form submission linked to the earlier page view by the snippet's anonymous id.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.integration.test_ingest_support import events_on_topic
from tests.support.processes import ServiceProcess, free_port
from tests.support.stack import ARTIFACTS, ROOT

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
EXAMPLE = ROOT / "docs" / "examples" / "contact-form.html"
THANKS = b"<!doctype html><meta charset=utf-8><title>Thank you</title><h1>Thank you!</h1><p>We will be in touch.</p>"


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail("/usr/bin/chromium is missing; CI must install it: apt-get install -y --no-install-recommends chromium")
    pytest.skip("/usr/bin/chromium is missing (apt-get install -y chromium)")


class PageServer:
    """Serves the example page with its ingest URL replaced, and the thank-you page."""

    def __init__(self, ingest_url: str) -> None:
        page = EXAMPLE.read_bytes().replace(b"https://ingest.example.com", ingest_url.encode())
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                path = self.path.split("?", 1)[0]
                server.requests.append(path)
                body = page if path in ("/", "/contact.html") else THANKS if path == "/thanks.html" else None
                if path == "/favicon.ico":
                    self.send_response(204)
                    self.end_headers()
                    return
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> PageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def site(test_env, tmp_path) -> Iterator[tuple[PageServer, ServiceProcess]]:
    _need_chromium()
    port = free_port()
    with PageServer(f"http://127.0.0.1:{port}") as pages:
        sources = tmp_path / "sources.yaml"
        sources.write_text(
            "sources:\n"
            "  - id: website\n"
            "    kind: html-form\n"
            "    name: Example Ltd website\n"
            f"    allowed_origins: [\"{pages.origin}\"]\n"
            f"    thank_you_url: {pages.origin}/thanks.html\n"
            "    field_mapping: {message: properties.message}\n"
        )
        ingest = ServiceProcess("ingest", {**test_env.env, "LEADFLOW_INGEST_SOURCES_FILE": str(sources)},
                                name="browser-ingest", port=port).start()
        try:
            yield pages, ingest
        finally:
            ingest.stop()


async def test_a_person_submits_the_example_form_and_lands_on_the_thank_you_page(site, test_env):
    from playwright.async_api import async_playwright

    pages, _ingest = site
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 900, "height": 1000})
            page = await context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
            page.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
            page.on("requestfailed", lambda req: problems.append(f"request failed: {req.url} {req.failure}"))
            await page.goto(f"{pages.origin}/contact.html?utm_source=newsletter")
            await page.wait_for_function("() => !!(window.leadflow && window.leadflow.consent)", timeout=10_000)
            assert await context.cookies() == []  # nothing before consent
            assert await page.locator('input[name="_anonymous_id"]').count() == 0

            await page.click("#consent-yes")
            cookie = next(c for c in await context.cookies() if c["name"] == "lf_aid")
            anonymous_id = cookie["value"]
            assert await page.locator('input[name="_anonymous_id"]').input_value() == anonymous_id

            await page.fill("#email", "Ada.Lovelace@Example.org")
            await page.fill("#first_name", "Ada")
            await page.fill("#last_name", "Lovelace")
            await page.fill("#company", "Analytical Engines Ltd")
            await page.fill("#job_title", "Head of Engineering")
            await page.fill("#message", "Please show us a demo.")
            await page.screenshot(path=str(ARTIFACTS / "html-form-filled.png"), full_page=True)
            async with page.expect_navigation(url=f"{pages.origin}/thanks.html"):
                await page.click("button[type=submit]")
            assert await page.inner_text("h1") == "Thank you!"
            await page.screenshot(path=str(ARTIFACTS / "html-form-thank-you.png"), full_page=True)
            assert not problems, problems
        finally:
            await browser.close()

    deadline = time.monotonic() + 20
    form, views = [], []
    while time.monotonic() < deadline and not (form and views):
        events = await events_on_topic(test_env)
        form = [e for e in events if e.data.identity.email == "ada.lovelace@example.org"]
        views = [e for e in events if e.data.touchpoint_type == "page_viewed" and e.data.identity.anonymous_id == anonymous_id]
    assert len(form) == 1, "the form submission did not reach Kafka (or reached it twice)"
    data = form[0].data
    assert data.touchpoint_type == "form_submitted" and data.source_id == "website"
    assert data.identity.anonymous_id == anonymous_id  # linked to the visit before it
    assert (data.profile.first_name, data.profile.last_name, data.profile.company, data.profile.job_title) == (
        "Ada", "Lovelace", "Analytical Engines Ltd", "Head of Engineering")
    assert data.properties["message"] == "Please show us a demo."
    assert data.properties["page_url"].startswith(f"{pages.origin}/contact.html")
    assert len(views) == 1 and views[0].data.properties["utm_source"] == "newsletter"
    assert "/thanks.html" in pages.requests
    assert (ARTIFACTS / "html-form-thank-you.png").stat().st_size > 0
