"""The live view in a real headless Chromium (Debian's chromium + chromedriver, driven by selenium).

A realtime session plays a voice and holds a real interp agent (torch, shipped weights); the page
must show the notes as they are sent, move the agent through its XY pad (read back from the
session), show the agent's own range error, and be refused with a wrong token. Every wait has a
deadline and polls a condition; nothing sleeps.
"""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("selenium", reason="selenium is not installed (pip install -e .[test])")
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="Debian's chromium and chromium-driver are not installed (./dev installs them)")

DEADLINE_S = 20.0
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,900"]


def wait_for(check, what: str, deadline_s: float = DEADLINE_S):
    """`check()`'s first true result, waited for with selenium's WebDriverWait; fails naming `what` at the deadline."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(None, deadline_s, poll_frequency=0.02).until(lambda _: check())
    except TimeoutException:
        raise AssertionError(f"not within {deadline_s:g} s: {what}") from None


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    from liveai.agents.interp.agent import InterpAgent
    from liveai.core.patterns import seq
    from liveai.frontends.view.server import ViewServer
    from liveai.runtime.session import Session

    session = Session(bpm=240, realtime=True)
    cap = session.capture()
    blend = InterpAgent("drums", session=session, name="blend", seed=1)
    blend.sample(n_corners=4)
    from liveai.agents.duet.agent import DuetAgent

    DuetAgent(session, name="duet", seed=1)          # listens to session.input; registers itself
    session.play("a", seq(60, 64, 67, 72))
    session.start()
    view = ViewServer(session).start()
    yield session, cap, blend, view, tmp_path_factory.mktemp("chromium")
    view.close()
    session.close()


@pytest.fixture(scope="module")
def browser(rig):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={rig[4]}"]:
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(DEADLINE_S)
    yield driver
    driver.quit()


def page_state(driver, expr: str):
    return driver.execute_script(f"return window.liveaiView ? {expr} : null;")


def test_the_page_loads_and_shows_the_notes_as_they_play(rig, browser):
    session, cap, _, view, _ = rig
    browser.get(view.url)
    wait_for(lambda: page_state(browser, "window.liveaiView.frames") or 0, "a first frame")
    shown = wait_for(lambda: page_state(browser, "Array.from(window.liveaiView.notes.values())"
                                                 ".filter(n => n.voice === 'a').map(n => [n.beat, n.pitch])")
                     if len(page_state(browser, "Array.from(window.liveaiView.notes.keys())") or []) >= 8 else None,
                     "eight notes of voice 'a' on the page")
    sent = {(round(e.beat, 4), e.item.pitch) for e in list(cap.sent) if e.voice == "a" and hasattr(e.item, "velocity")}
    assert {(b, p) for b, p in shown} <= sent            # each note on the page is one the session sent
    assert {p for _, p in shown} == {60, 64, 67, 72}
    # and the roll canvas has them drawn
    drawn = wait_for(lambda: browser.execute_script(
        "const c = document.getElementById('roll'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        "let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n;"), "notes drawn on the roll")
    assert drawn > 100
    assert browser.find_element("id", "bpm").text == "240"
    assert ":" in browser.find_element("id", "pos").text
    rate = wait_for(lambda: int(browser.find_element("id", "fps").text or 0) >= 20 and
                    int(browser.find_element("id", "fps").text), "at least 20 updates a second")
    assert rate >= 20


def test_moving_the_xy_pad_moves_the_interp_agent(rig, browser):
    from selenium.webdriver.common.action_chains import ActionChains

    _, _, blend, view, _ = rig
    if view.url not in browser.current_url:
        browser.get(view.url)
    pad = wait_for(lambda: browser.find_elements("id", "xy-blend"), "the XY pad of agent 'blend'")[0]
    for param in blend.PARAMS:                       # a slider and a box for every param of the agent
        assert browser.find_elements("id", f"s-blend-{param}") and browser.find_elements("id", f"v-blend-{param}")
    size = pad.size
    ActionChains(browser).move_to_element_with_offset(pad, -size["width"] // 4, size["height"] // 4) \
        .click_and_hold().move_by_offset(size["width"] // 8, -size["height"] // 8).release().perform()
    want = browser.execute_script("return document.getElementById('xy-blend').dataset.want").split(",")
    wx, wy = float(want[0]), float(want[1])
    assert 0.2 < wx < 0.5 and 0.2 < wy < 0.5       # left of and below the centre, where the pointer was let go
    wait_for(lambda: abs(blend.get("x") - wx) < 2e-3 and abs(blend.get("y") - wy) < 2e-3,
             f"the agent at ({wx}, {wy}); it is at ({blend.get('x')}, {blend.get('y')})")
    # the page reads it back from the session: the live position shown is the agent's
    wait_for(lambda: f"({wx:.2f}, {wy:.2f})" in browser.find_element("id", "live-blend").text,
             "the page showing the agent's new position")


def test_an_out_of_range_value_shows_the_agents_own_error(rig, browser):
    from selenium.webdriver.common.keys import Keys

    _, _, blend, view, _ = rig
    if view.url not in browser.current_url:
        browser.get(view.url)
    before = blend.get("temperature")
    box = wait_for(lambda: browser.find_elements("id", "v-blend-temperature"), "the temperature box")[0]
    box.click()                                        # focused: the page stops writing the live value into it
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys("7", Keys.ENTER)
    err = wait_for(lambda: browser.find_element("id", "err").is_displayed() and browser.find_element("id", "err").text,
                   "the error shown in the page")
    with pytest.raises(ValueError) as refused:
        blend.set("temperature", 7)
    assert err == str(refused.value)                   # the same words as the REPL, OSC and MIDI CC get
    assert blend.get("temperature") == before          # and nothing changed


def test_a_wrong_token_is_refused(rig, browser):
    _, _, _, view, _ = rig
    browser.get(view.url.replace(view.token, "not-the-token"))
    assert "wrong or missing token" in browser.find_element("tag name", "body").text
    browser.get(view.url.split("?")[0])
    assert "wrong or missing token" in browser.find_element("tag name", "body").text


def test_human_input_is_drawn_apart_and_duet_shows_the_phrase_it_heard(rig, browser):
    from liveai.core.events import Note, NoteOff

    session, _, _, view, _ = rig
    if view.url not in browser.current_url:
        browser.get(view.url)
    wait_for(lambda: browser.find_elements("id", "live-duet"), "the duet agent's card")
    for pitch in (62, 65, 69):                       # D4 F4 A4, as a MIDI keyboard would send them
        session.input(Note(pitch, 80, 0.5), source="midi")
        session.input(NoteOff(pitch), source="midi")
    human = wait_for(lambda: page_state(browser, "window.liveaiView.human.filter(n => n.vel > 0).map(n => n.pitch)")
                     if len(page_state(browser, "window.liveaiView.human") or []) >= 6 else None,
                     "the human's notes in the page")
    assert human[-3:] == [62, 65, 69]
    assert not page_state(browser, "Array.from(window.liveaiView.notes.values()).some(n => n.voice === 'midi')")
    wait_for(lambda: "heard  D4 F4 A4" in browser.find_element("id", "live-duet").text,
             "duet's card showing the phrase it heard")
