"""The student's path in a real browser: JupyterLab, an exercise notebook, an answer, the check;
then the quick test's widget, answered and submitted, and the attempt in the progress store.

Debian's Chromium and chromedriver (installed by ``make setup``) are driven by Selenium; nothing
is downloaded at run time. JupyterLab runs on a free local port with a token, on a copy of a
released notebook (and of the quick test), so the committed ones are never touched. On failure a screenshot and the page's
HTML are kept in ``out/browser-artifacts/``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "ps1_distances_semi_hard.ipynb"
QUICK_TEST = "quick_test.ipynb"
ARTIFACTS = ROOT / "out" / "browser-artifacts"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1000")

# Typed as a student types: CodeMirror indents after the ``def`` line by itself, so the body's lines
# are typed without their indentation (and brackets and quotes it closes by itself are typed over).
RIGHT = """def pairwise_distances(embeddings, squared=False):
sq = (embeddings * embeddings).sum(dim=1)
d2 = (sq[:, None] + sq[None, :] - 2.0 * embeddings @ embeddings.T).clamp(min=0.0)
d2 = d2 * (1 - torch.eye(len(embeddings), dtype=d2.dtype, device=d2.device))
zero = d2 == 0
root = torch.sqrt(torch.where(zero, torch.ones_like(d2), d2)) * (~zero)
return d2 if squared else root"""
WRONG = """def pairwise_distances(embeddings, squared=False):
d2 = ((embeddings[:, None] - embeddings[None]) ** 2).sum(-1)
return d2 if squared else d2.sqrt()"""

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver") or ("/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else None)
if not (CHROMIUM and CHROMEDRIVER):
    if os.environ.get("CI"):
        pytest.fail("Chromium and chromedriver are missing: `make setup` installs Debian's packages", pytrace=False)
    pytest.skip("Chromium and chromedriver are not installed (`make setup` installs them)", allow_module_level=True)
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on a free port with a token, serving a copy of the released notebook."""
    work = tmp_path / "student"
    (work / "lessons").mkdir(parents=True)
    shutil.copytree(ROOT / "jupyter" / "student", tmp_path / "config")  # as `make lab` configures it
    shutil.copy(ROOT / "exercises" / NOTEBOOK, work / NOTEBOOK)
    shutil.copy(ROOT / "lessons" / QUICK_TEST, work / "lessons" / QUICK_TEST)
    port, token = _free_port(), "hnm-browser-test-token"
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "config"), PYTHONUNBUFFERED="1",
               HNM_QUIZ_DB=str(tmp_path / "quiz.sqlite3"))  # the kernels inherit it: the quiz's progress store
    args = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}", "--ServerApp.port_retries=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(args, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text()[-3000:])
                time.sleep(0.5)
        yield url, token, work
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture
def browser(tmp_path):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@contextlib.contextmanager
def artifacts_on_failure(driver, name: str):
    """Keep a screenshot and the page's HTML when the block fails."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
        (ARTIFACTS / f"{name}.html").write_text(driver.page_source)
        raise


def _cell(driver, text: str, timeout: float = 60):
    """The notebook cell whose source contains ``text`` (JupyterLab renders cells as they come)."""

    def find(d):
        for cell in d.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell"):
            source = cell.find_elements(By.CSS_SELECTOR, ".cm-content")
            if source and text in source[0].get_attribute("textContent"):
                return cell
        return None

    return WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(
        find, f"no cell holds {text!r}")


def _output(cell) -> str:
    return "\n".join(o.get_attribute("textContent") for o in cell.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output"))


def _type_answer(driver, answer: str) -> None:
    """Click into the answer cell, select its text and type the answer over it."""
    editor = _cell(driver, "def pairwise_distances(").find_element(By.CSS_SELECTOR, ".cm-content")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", editor)
    editor.click()
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys(Keys.DELETE)
    for line in answer.splitlines(keepends=True):
        editor.send_keys(line.replace("\n", Keys.ENTER))
    typed = editor.get_attribute("textContent")
    assert "return d2 if squared" in typed, typed


def _menu(driver, *labels: str) -> None:
    """Click through JupyterLab's menu bar, e.g. ("Run", "Run All Cells")."""
    top = WebDriverWait(driver, 30).until(lambda d: [
        e for e in d.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel") if e.text == labels[0]])
    top[0].click()
    for label in labels[1:]:
        item = WebDriverWait(driver, 30).until(lambda d: [
            e for e in d.find_elements(By.CSS_SELECTOR, ".lm-Menu-itemLabel") if e.text == label and e.is_displayed()])
        item[0].click()


def _run_all_and_read_check(driver) -> str:
    _menu(driver, "Run", "Run All Cells")
    check = _cell(driver, 'grader.check("pairwise_distances"')
    WebDriverWait(driver, 300, poll_frequency=1).until(lambda d: "points" in _output(check))
    return _output(check)


def test_a_student_answers_an_exercise_and_reads_the_check_in_jupyterlab(lab, browser):
    with artifacts_on_failure(browser, "exercise-check"):
        _student_path(browser, *lab)


def _student_path(browser, url: str, token: str, work: Path) -> None:
    browser.get(f"{url}/lab/tree/{NOTEBOOK}?token={token}")
    _cell(browser, 'grader.check("pairwise_distances"', timeout=120)
    # The rules box stands before the answer cell.
    rules = WebDriverWait(browser, 60).until(lambda d: [
        c for c in d.find_elements(By.CSS_SELECTOR, ".jp-Notebook .jp-MarkdownCell")
        if "Rules the grader checks" in c.get_attribute("textContent")])
    assert "finite_gradient" in rules[0].get_attribute("textContent")

    _type_answer(browser, WRONG)
    output = _run_all_and_read_check(browser)
    assert "pairwise_distances: " in output and " / 10 points" in output and "10 / 10" not in output, output
    assert "[FAIL] finite_gradient" in output and "minimal counterexample" in output, output

    _type_answer(browser, RIGHT)
    check = _cell(browser, 'grader.check("pairwise_distances"')
    _menu(browser, "Edit", "Clear Outputs of All Cells")
    WebDriverWait(browser, 30).until(lambda d: "points" not in _output(check))
    output = _run_all_and_read_check(browser)
    assert "pairwise_distances: 10 / 10 points" in output, output
    assert "[FAIL]" not in output


def test_the_student_lab_has_no_instructor_tools_and_opens_notebooks_unmodified(lab, browser):
    """`make lab`'s configuration: none of nbgrader's instructor tools (a student cannot use them:
    Validate scored 0 points as "Partial credit", the lists showed exchange errors), and a released
    notebook is not marked modified by merely opening it and starting its kernel."""
    import json

    url, token, work = lab
    with artifacts_on_failure(browser, "student-lab"):
        browser.get(f"{url}/lab/tree/{NOTEBOOK}?token={token}")
        _cell(browser, 'grader.check("pairwise_distances"', timeout=120)

        def kernel_idle(_):
            with urllib.request.urlopen(f"{url}/api/sessions?token={token}", timeout=5) as reply:
                sessions = json.load(reply)
            return any(s.get("kernel", {}).get("execution_state") == "idle" for s in sessions)

        WebDriverWait(browser, 120, poll_frequency=1).until(kernel_idle, "the notebook's kernel never became idle")
        time.sleep(3)  # the page applies the kernel's info (kernelspec, language_info) to the notebook
        menus = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel")]
        assert "File" in menus and "Nbgrader" not in menus, menus
        toolbar = " ".join(e.get_attribute("textContent") for e in browser.find_elements(By.CSS_SELECTOR, ".jp-Toolbar"))
        assert "Validate" not in toolbar, toolbar
        dirty = browser.find_elements(By.CSS_SELECTOR, ".lm-TabBar-tab.jp-mod-dirty")
        assert not dirty, [d.get_attribute("textContent") for d in dirty]
    for endpoint in ("formgrader", "assignments", "courses"):  # nbgrader's server side is off as well
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{url}/{endpoint}?token={token}", timeout=10)
        assert refused.value.code == 404, endpoint


def test_a_student_takes_the_quick_test_in_jupyterlab_and_the_attempt_is_saved(lab, browser, tmp_path):
    with artifacts_on_failure(browser, "quick-test"):
        _quick_test(browser, *lab, tmp_path / "quiz.sqlite3")


def _quick_test(browser, url: str, token: str, work: Path, store: Path) -> None:
    from grader.quiz.store import Store

    browser.get(f"{url}/lab/tree/lessons/{QUICK_TEST}?token={token}")
    cell = _cell(browser, "quiz_widget(", timeout=120)
    assert "VBox(" not in _output(cell)  # no raw widget repr before the cell runs
    # As a student at the keyboard: select the first cell, go down to the quiz cell (the last of 4),
    # enter it, and type over its code.
    browser.find_element(By.CSS_SELECTOR, ".jp-Notebook .jp-Cell .jp-InputPrompt").click()
    keys = ActionChains(browser)
    keys.send_keys(Keys.ESCAPE, Keys.DOWN, Keys.DOWN, Keys.DOWN, Keys.ENTER).pause(1)
    keys.key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).send_keys(Keys.DELETE)
    keys.send_keys("from grader.quiz.notebook import quiz_widget", Keys.ENTER, 'quiz_widget(user="ann");').perform()
    _cell(browser, 'quiz_widget(user="ann")')
    _menu(browser, "Run", "Run All Cells")
    quiz = lambda: _cell(browser, 'quiz_widget(user="ann")')  # noqa: E731 - found anew: cells re-render
    patient = dict(poll_frequency=1, ignored_exceptions=(StaleElementReferenceException,))
    WebDriverWait(browser, 180, **patient).until(lambda d: len(quiz().find_elements(By.CSS_SELECTOR, ".widget-radio-box")) == 8)
    assert "Progress is saved in" in _output(quiz()) and str(store) in _output(quiz())
    for question in range(8):  # answer each question with its first option
        group = quiz().find_elements(By.CSS_SELECTOR, ".widget-radio-box")[question]
        driver_scroll(browser, group)
        group.find_elements(By.CSS_SELECTOR, "input[type=radio]")[0].click()
        answers = [b for b in quiz().find_elements(By.CSS_SELECTOR, "button.jupyter-button") if b.text == "Answer"]
        answers[question].click()
        WebDriverWait(browser, 60, **patient).until(lambda d: not [
            b for b in quiz().find_elements(By.CSS_SELECTOR, "button.jupyter-button") if b.text == "Answer"][question].is_enabled())
    WebDriverWait(browser, 60, **patient).until(lambda d: "Saved as attempt 1 for ann" in _output(quiz()))
    shown = _output(quiz())
    [attempt] = Store(store).history("ann")
    assert attempt["attempt"] == 1 and list(attempt["answers"].values()) == [0] * 8
    assert f"Score: {attempt['correct']}/8" in shown, (attempt, shown)


def driver_scroll(driver, element) -> None:
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
