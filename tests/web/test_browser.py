"""The pages in a real browser: Debian's Chromium driven by Playwright, the app on a topology."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from sentinel_board.topology import Topology
from tests.conftest import running

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("SENTINEL_BOARD_ARTIFACTS", "artifacts")) / "screenshots"
# Without these, Chromium keeps trying to reach Google's hosts, which a closed network refuses.
QUIET = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"no Chromium at {CHROMIUM}: `make test` installs Debian's chromium, or set CHROMIUM",
)


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    """The board as `make run` starts it: a topology with the app in front."""
    with running(tmp_path_factory.mktemp("board"), app=True) as started:
        yield started


@pytest.fixture
async def page(request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A fresh browser page; it fails the test on any script error or CSP violation,
    and leaves a screenshot of where the test ended in artifacts/screenshots/."""
    async with async_playwright() as playwright:
        browser: Browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=QUIET)
        page = await browser.new_page(viewport={"width": 1100, "height": 800})
        problems: list[str] = []
        page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        page.on(
            "console",
            lambda message: problems.append(message.text) if message.type == "error" else None,
        )
        try:
            yield page
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=ARTIFACTS / f"{request.node.name}.png", full_page=True)
        finally:
            await browser.close()
        assert problems == []


def unique(text: str) -> str:
    return f"{text} {uuid.uuid4().hex[:8]}"


async def test_sending_a_message_counts_it_without_a_reload(board: Topology, page: Page) -> None:
    await page.goto(f"{board.spec.app_url}/")
    count = page.locator(".count")
    before = int(await count.get_attribute("data-unread") or "")
    await page.evaluate("window.notReloaded = true")
    await page.fill("#message", unique("hello from Chromium"))
    await page.click("button[type=submit]")
    await expect(count).to_have_attribute("data-unread", str(before + 1))
    await expect(page.locator("#form-status")).to_have_text("Sent.")
    assert await page.evaluate("window.notReloaded") is True


async def test_a_message_moves_from_unread_to_read_on_refresh(board: Topology, page: Page) -> None:
    text = unique("read me")
    await page.goto(f"{board.spec.app_url}/")
    await page.fill("#message", text)
    await page.click("button[type=submit]")
    await expect(page.locator("#form-status")).to_have_text("Sent.")
    await page.goto(f"{board.spec.app_url}/messages")
    await expect(page.locator(".unread .text", has_text=text)).to_have_count(1)
    await expect(page.locator(".read .text", has_text=text)).to_have_count(0)
    await page.reload()
    await expect(page.locator(".unread .text", has_text=text)).to_have_count(0)
    await expect(page.locator(".read .text", has_text=text)).to_have_count(1)


async def test_markup_in_a_message_shows_as_text(board: Topology, page: Page) -> None:
    marker = uuid.uuid4().hex[:8]
    markup = f'<b id="b{marker}">bold</b><img src=x onerror="window.pwned=1"> {marker}'
    await page.goto(f"{board.spec.app_url}/")
    await page.fill("#message", markup)
    await page.click("button[type=submit]")
    await expect(page.locator("#form-status")).to_have_text("Sent.")
    await page.goto(f"{board.spec.app_url}/messages")
    shown = page.locator(".text", has_text=marker)
    await expect(shown).to_have_text(markup)
    assert await page.locator(f"#b{marker}").count() == 0
    assert await page.evaluate("window.pwned") is None


async def kill(topology: Topology, role: str) -> None:
    command = [sys.executable, "-m", "sentinel_board", "kill", role]
    killer = await asyncio.create_subprocess_exec(
        *command, "--run-dir", str(topology.spec.run_dir), stdout=asyncio.subprocess.DEVNULL
    )
    assert await killer.wait() == 0


async def test_the_status_page_follows_a_failover_live(
    make_topology: Callable[..., Topology], page: Page
) -> None:
    topology = make_topology(app=True)
    old = topology.node(topology.master_name() or "")
    await page.goto(f"{topology.spec.app_url}/status")
    await expect(page.locator("#live")).to_have_attribute("data-state", "live")
    await expect(page.locator("#sentinel-master")).to_have_text(f"127.0.0.1:{old.port}")
    await expect(page.locator(".summary")).to_have_attribute("data-health", "ok")
    await page.evaluate("window.notReloaded = true")

    await kill(topology, "master")

    switch = page.locator('#events .event[data-type="+switch-master"]')
    await expect(switch).to_have_count(1, timeout=20_000)
    new = topology.node(topology.master_name() or "")
    assert new != old
    await expect(switch).to_contain_text(f"127.0.0.1:{old.port} → 127.0.0.1:{new.port}")
    await expect(page.locator("#sentinel-master")).to_have_text(f"127.0.0.1:{new.port}")
    await expect(page.locator("#app-master")).to_have_text(f"127.0.0.1:{new.port}")
    events = page.locator("#events .event")
    for seen in ("+sdown", "+odown", "+elected-leader", "+promoted-slave"):
        await expect(events.filter(has=page.locator(f'.type:text-is("{seen}")'))).not_to_have_count(
            0
        )
    await expect(page.locator("#failovers")).to_have_text(re.compile(r"[1-9]"))
    assert await page.evaluate("window.notReloaded") is True
