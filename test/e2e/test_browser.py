"""The pages (SPEC §9) in a real browser: Debian's chromium, driven by
chromium-driver through python3-selenium, headless, through nginx, with
JavaScript on and off.  axe-core (npm, installed by contrib/deps.sh into
/opt/pwreset-test-node) is injected into each page and must report no
serious or critical violation.  A screenshot of each page is saved under
$PWRESET_BUILD/screenshots/.

Every wait is explicit (WebDriverWait on the page's own state): nothing
here sleeps and hopes."""

import json
import os
import re

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from pwr import (GOOD_PW, OTHER_PW, SUBJECT_CHANGED, SUBJECT_RESET,
                 add_member, check_password, ctl_ok, mails_to, text_of)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
AXE = os.environ.get("PWRESET_AXE",
                     "/opt/pwreset-test-node/node_modules/axe-core/axe.min.js")
ALICE = "alice@example.test"
LINK_RE = re.compile(r"(http://[^/\s]+/email/changepassword\?[^\s\"<]+)")
WAIT = 30  # seconds; generous for a loaded machine, never a sleep


def _driver(js):
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
              "--disable-gpu", "--window-size=1024,900",
              "--disable-extensions", "--no-first-run",
              "--disable-background-networking", "--lang=en-US"):
        opts.add_argument(a)
    if not js:
        opts.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript":
                      2})
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    d.set_page_load_timeout(WAIT)
    return d


@pytest.fixture(scope="module")
def browsers():
    for path in (CHROMIUM, CHROMEDRIVER, AXE):
        assert os.path.exists(path), \
            "%s missing: run contrib/deps.sh as root" % path
    made = {}
    yield lambda js: made.get(js) or made.setdefault(js, _driver(js))
    for d in made.values():
        d.quit()


@pytest.fixture(scope="module", autouse=True)
def axe_report(stack):
    """Every finding of axe-core (minor and moderate included), per page,
    next to the screenshots: screenshots/axe.json."""
    yield
    d = os.path.join(stack.build_dir, "screenshots")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "axe.json"), "w") as f:
        json.dump(AXE_RESULTS, f, indent=1, sort_keys=True)


@pytest.fixture
def shots(stack):
    d = os.path.join(stack.build_dir, "screenshots")
    os.makedirs(d, exist_ok=True)

    def shot(driver, name):
        driver.save_screenshot(os.path.join(d, name + ".png"))
    return shot


@pytest.fixture
def alice(stack):
    return add_member(stack, "alice", email=ALICE, firstname="Alice",
                      lastname="Liddell")


def base(stack):
    return "http://127.0.0.1:%d" % stack.nginx_port


def wait(driver):
    return WebDriverWait(driver, WAIT)


def h1(driver):
    return driver.find_element(By.TAG_NAME, "h1").text


def submit_with_enter(driver, field_id):
    """Press Enter in a field (keyboard only) and wait for the next page."""
    old = driver.find_element(By.TAG_NAME, "html")
    driver.find_element(By.ID, field_id).send_keys(Keys.ENTER)
    wait(driver).until(EC.staleness_of(old))
    wait(driver).until(EC.presence_of_element_located((By.TAG_NAME, "h1")))


def type_into(driver, field_id, text):
    el = driver.find_element(By.ID, field_id)
    el.clear()
    el.send_keys(text)


def axe_check(driver, name):
    """Run axe-core in the page; no serious or critical violation."""
    with open(AXE, encoding="utf-8") as f:
        src = f.read()
    # WebDriver scripts are not page scripts: the CSP does not stop them.
    driver.execute_script(src + "\n;window.axe = axe;")
    result = driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(function (r) { done(r.violations.map(function (v) {"
        " return {id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(function (n) { return n.html; })}; })); },"
        " function (e) { done([{id: 'axe-error', impact: 'critical',"
        " help: String(e), nodes: []}]); });")
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, "%s: %r" % (name, bad)
    AXE_RESULTS[name] = [(v["id"], v["impact"]) for v in result]


AXE_RESULTS = {}


def no_horizontal_scroll(driver, shot=None, name=None):
    """At 320 CSS px wide, the page fits its width."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": 320, "height": 640, "deviceScaleFactor": 1,
        "mobile": True})
    try:
        sw, iw = driver.execute_script(
            "return [document.documentElement.scrollWidth,"
            " window.innerWidth];")
        assert sw <= iw, (sw, iw)
        if shot is not None:
            shot(driver, name)
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def reset_link(stack, subject=SUBJECT_RESET):
    """The link of the one reset mail (example-brand has its own
    subject: subject None)."""
    (msg,) = mails_to(stack, ALICE, 1, subject=subject)
    found = LINK_RE.findall(text_of(msg))
    assert found, text_of(msg)
    return found[0]


@pytest.mark.parametrize("js", [True, False], ids=["js", "nojs"])
def test_whole_flow(stack, browsers, shots, alice, js):
    d = browsers(js)
    tag = "" if js else "-nojs"
    d.delete_all_cookies()

    d.get(base(stack) + "/email/forgotpassword")
    assert h1(d) == "Reset your password"
    assert d.find_element(By.ID, "identifier").get_attribute(
        "autocomplete") == "username"
    shots(d, "request" + tag)
    if js:
        axe_check(d, "request")
        no_horizontal_scroll(d)
    type_into(d, "identifier", "alice")
    submit_with_enter(d, "identifier")
    assert h1(d) == "Check your email"
    shots(d, "sent" + tag)
    if js:
        axe_check(d, "sent")

    link = reset_link(stack)
    d.get(link)
    wait(d).until(EC.presence_of_element_located((By.ID, "password")))
    assert h1(d) == "Choose a new password"
    rule = d.find_element(By.ID, "rule").text
    assert "at least 7 characters" in rule
    if js:
        # the token leaves the address bar; it is in the form
        wait(d).until(lambda drv: "token=" not in drv.current_url)
        no_horizontal_scroll(d, shots, "choose-320")
    else:
        assert "token=" in d.current_url
    assert d.find_element(By.NAME, "token").get_attribute("value") in link
    # for password managers only: present, not shown
    assert not d.find_element(
        By.CSS_SELECTOR, "input[autocomplete=username]").is_displayed()
    shots(d, "choose" + tag)
    if js:
        axe_check(d, "choose")
        # keyboard only: Tab goes password → confirm → button, visibly
        d.find_element(By.ID, "password").click()
        d.switch_to.active_element.send_keys(Keys.TAB)
        assert d.switch_to.active_element.get_attribute("id") == "confirm"
        d.switch_to.active_element.send_keys(Keys.TAB)
        active = d.switch_to.active_element
        assert active.tag_name == "button"
        assert d.execute_script(
            "return getComputedStyle(document.activeElement).outlineStyle"
        ) == "solid"

    # the two fields differ: inline, tied to the field, the token kept
    type_into(d, "password", GOOD_PW)
    type_into(d, "confirm", OTHER_PW)
    submit_with_enter(d, "confirm")
    err = d.find_element(By.ID, "confirm-error").text
    assert "The two passwords differ" in err
    confirm = d.find_element(By.ID, "confirm")
    assert confirm.get_attribute("aria-invalid") == "true"
    assert "confirm-error" in confirm.get_attribute("aria-describedby")
    shots(d, "mismatch" + tag)
    if js:
        axe_check(d, "mismatch")

    # too weak: the reason and the rule, the token still valid
    type_into(d, "password", "abc")
    type_into(d, "confirm", "abc")
    submit_with_enter(d, "confirm")
    assert "not strong enough" in d.find_element(By.ID,
                                                 "password-error").text
    assert d.find_element(By.ID, "password").get_attribute(
        "aria-invalid") == "true"
    shots(d, "weak" + tag)
    assert not check_password(stack, "alice", GOOD_PW)

    type_into(d, "password", GOOD_PW)
    type_into(d, "confirm", GOOD_PW)
    submit_with_enter(d, "confirm")
    assert h1(d) == "Your password has been changed"
    shots(d, "done" + tag)
    if js:
        axe_check(d, "done")
    mails_to(stack, ALICE, 1, subject=SUBJECT_CHANGED)
    assert check_password(stack, "alice", GOOD_PW)

    # the link is used now
    d.get(link)
    wait(d).until(EC.presence_of_element_located((By.TAG_NAME, "h1")))
    assert h1(d) == "This link no longer works"
    assert d.find_element(By.ID, "identifier")
    shots(d, "invalid" + tag)
    if js:
        axe_check(d, "invalid")
        no_horizontal_scroll(d)
    assert not d.get_cookies()


def test_get_repeated_changes_nothing(stack, browsers, alice):
    d = browsers(True)
    d.get(base(stack) + "/email/forgotpassword")
    type_into(d, "identifier", ALICE)
    submit_with_enter(d, "identifier")
    link = reset_link(stack)
    rows = stack.sql("SELECT * FROM reset_token ORDER BY id")
    limits = stack.sql("SELECT * FROM rate_limit ORDER BY key")
    for _ in range(3):
        d.get(link)
        wait(d).until(EC.presence_of_element_located((By.ID, "password")))
        d.refresh()  # the token has left the URL: a reload shows no form
        wait(d).until(EC.presence_of_element_located((By.TAG_NAME, "h1")))
    assert stack.sql("SELECT * FROM reset_token ORDER BY id") == rows
    assert stack.sql("SELECT * FROM rate_limit ORDER BY key") == limits


def test_group_branding(stack, browsers, shots, alice):
    ctl_ok(stack, "group", "add", "brand", "--template", "example-brand")
    ctl_ok(stack, "group", "add-member", "brand", "alice")
    d = browsers(True)
    d.get(base(stack) + "/email/forgotpassword?group=brand")
    assert "Example Brand" in d.find_element(By.CLASS_NAME, "brand").text
    type_into(d, "identifier", "alice")
    submit_with_enter(d, "identifier")
    link = reset_link(stack, subject=None)
    assert link.endswith("&group=brand")
    d.get(link)
    wait(d).until(EC.presence_of_element_located((By.ID, "password")))
    assert "Example Brand" in d.find_element(By.CLASS_NAME, "brand").text
    shots(d, "choose-brand")
    axe_check(d, "choose-brand")


def test_cross_site_post_refused(stack, browsers, alice):
    """A form on another origin posting to the page → 403, nothing
    changed.  The other origin is nginx under another name (localhost)."""
    d = browsers(True)
    d.get(base(stack) + "/email/forgotpassword")
    type_into(d, "identifier", "alice")
    submit_with_enter(d, "identifier")
    link = reset_link(stack)
    d.get(link)
    wait(d).until(EC.presence_of_element_located((By.ID, "password")))
    token = d.find_element(By.NAME, "token").get_attribute("value")
    member = d.find_element(By.NAME, "member").get_attribute("value")
    # nginx's own 404 page: no CSP of ours to stop the form
    other = "http://localhost:%d/elsewhere" % stack.nginx_port
    d.get(other)
    # Build, on localhost, a form that posts to 127.0.0.1 (another site
    # for the browser); WebDriver scripts are not held by the CSP.
    old = d.find_element(By.TAG_NAME, "html")
    d.execute_script(
        "var f = document.createElement('form'); f.method = 'post';"
        "f.action = arguments[0];"
        "[['member', arguments[1]], ['token', arguments[2]],"
        " ['member-password', arguments[3]],"
        " ['member-password-confirm', arguments[3]]].forEach(function (p) {"
        " var i = document.createElement('input'); i.type = 'hidden';"
        " i.name = p[0]; i.value = p[1]; f.appendChild(i); });"
        "document.body.appendChild(f); HTMLFormElement.prototype.submit"
        ".call(f);",
        base(stack) + "/email/changepassword", member, token, GOOD_PW)
    wait(d).until(EC.staleness_of(old))
    wait(d).until(EC.presence_of_element_located((By.TAG_NAME, "h1")))
    assert "another site" in h1(d)
    assert not check_password(stack, "alice", GOOD_PW)

