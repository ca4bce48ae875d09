from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from posture import config
from posture.adapters import private
from posture.adapters.system import paths
from posture.errors import PostureError


def write(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "config.toml"
    file.write_text(text, encoding="utf-8")
    return file


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    cfg = config.load(tmp_path / "nope.toml")
    assert cfg == config.Config()
    assert cfg.pose.min_visibility == 0.5
    assert cfg.pose.model == ""
    assert cfg.judgment.slouch_after == 30.0


def test_judgment_settings_reach_the_tracker(tmp_path: Path) -> None:
    cfg = config.load(write(tmp_path, "[judgment]\nslouch_after = 45\nexit_ratio = 0.5\n"))
    settings = config.episode_settings(cfg.judgment)
    assert settings.slouch_after == 45.0
    assert settings.exit_ratio == 0.5
    assert settings.smooth_window == 5.0


def test_values_override_defaults_and_ints_become_floats(tmp_path: Path) -> None:
    cfg = config.load(
        write(tmp_path, '[pose]\nmodel = "/m/heavy.task"\nnum_poses = 2\nmin_visibility = 1\n')
    )
    assert cfg.pose.model == "/m/heavy.task"
    assert cfg.pose.num_poses == 2
    assert cfg.pose.min_visibility == 1.0
    assert isinstance(cfg.pose.min_visibility, float)
    assert cfg.pose.min_tracking_confidence == 0.5


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("[pose]\nnum_poses = 0\n", r"pose\.num_poses = 0 is out of range \(1 to 5\)"),
        ("[pose]\nmin_visibility = 1.5\n", r"pose\.min_visibility = 1\.5 is out of range"),
        ('[pose]\nnum_poses = "two"\n', r"pose\.num_poses = 'two' should be a int"),
        ("[pose]\nnum_poses = true\n", r"pose\.num_poses = True should be a int"),
        ("[pose]\nmodle = 'x'\n", r"unknown setting pose\.modle \(known here: .*model"),
        ("[poses]\n", r"unknown setting poses"),
        ("pose = 3\n", r"pose should be a \[pose\] table"),
        ("[pose\n", r"is not valid TOML"),
        ("[judgment]\nslouch_after = 1\n", r"judgment\.slouch_after = 1\.0 is out of range"),
        (
            "[judgment]\nsensitivity = 'extreme'\n",
            r"judgment\.sensitivity = 'extreme' should be low",
        ),
    ],
)
def test_bad_config_names_key_value_and_file(tmp_path: Path, text: str, pattern: str) -> None:
    file = write(tmp_path, text)
    with pytest.raises(config.ConfigError, match=pattern) as info:
        config.load(file)
    message = str(info.value)
    assert str(file) in message
    assert "\n" not in message
    assert isinstance(info.value, PostureError)


def test_posture_home_moves_every_folder(tmp_path: Path) -> None:
    found = paths.folders({"POSTURE_HOME": str(tmp_path)})
    for folder in (found.config, found.data, found.log, found.runtime):
        assert tmp_path in folder.parents
    assert found.config_file == tmp_path / "config" / "config.toml"


def test_platform_folders_without_posture_home() -> None:
    found = paths.folders({})
    assert "posture" in str(found.data)
    assert found.data != found.config or found.config.name == "posture"


def test_private_dir_is_created_and_tightened(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    private.ensure_private_dir(target)
    assert target.stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o700  # created parents too
    target.chmod(0o755)
    private.ensure_private_dir(target)
    assert target.stat().st_mode & 0o777 == 0o700


def test_a_home_others_can_write_or_own_is_refused(tmp_path: Path, grace_hopper: Path) -> None:
    """A POSTURE_HOME (or one of its folders) made 0777, or owned by another user, could
    hold their config.toml or a fake control socket: refused in one line, with the fix."""
    from tests.conftest import run_posture

    home = tmp_path / "shared"
    (home / "config").mkdir(parents=True)
    (home / "config" / "config.toml").write_text("[pose]\nnum_poses = 1\n")
    home.chmod(0o777)
    done = run_posture("analyze", str(grace_hopper), env={"POSTURE_HOME": str(home)})
    assert done.returncode == 2
    assert done.stderr == (
        f"posture: error: {home} can be written by other users (mode 777), who could plant "
        f"files posture would trust: run `chmod 700 '{home}'` and try again\n"
    )
    home.chmod(0o700)
    (home / "config").chmod(0o757)
    done = run_posture("status", env={"POSTURE_HOME": str(home)})
    assert done.returncode != 0 and "can be written by other users" in done.stderr
    (home / "config").chmod(0o700)
    if os.geteuid() == 0:  # root can hand the folder to another user (nobody)
        os.chown(home, 65534, 65534)
        done = run_posture("analyze", str(grace_hopper), env={"POSTURE_HOME": str(home)})
        assert done.returncode == 2
        assert f"{home} belongs to another user (uid 65534)" in done.stderr


def test_every_log_file_is_private_the_rotated_ones_too(tmp_path: Path) -> None:
    """The standard rotating handler makes each new file with the umask's mode (0644 at
    022); posture's makes every one 0600, and never writes through a link."""
    import logging

    from posture.adapters.private import LinkRefused, PrivateRotatingFileHandler

    old = os.umask(0o022)  # the usual umask, under which the standard handler makes 0644
    try:
        path = tmp_path / "posture.log"
        handler = PrivateRotatingFileHandler(path, maxBytes=2000, backupCount=2)
        logger = logging.getLogger("posture.test.rotation")
        logger.propagate = False
        logger.addHandler(handler)
        try:
            for i in range(100):
                logger.warning("line %03d %s", i, "x" * 60)
        finally:
            logger.removeHandler(handler)
            handler.close()
    finally:
        os.umask(old)
    files = sorted(tmp_path.glob("posture.log*"))
    assert [f.name for f in files] == ["posture.log", "posture.log.1", "posture.log.2"]
    assert {f.stat().st_mode & 0o777 for f in files} == {0o600}
    target = tmp_path / "victim"
    target.write_text("keep\n")
    link = tmp_path / "linked.log"
    link.symlink_to(target)
    with pytest.raises(LinkRefused):
        PrivateRotatingFileHandler(link, maxBytes=2000)
    assert target.read_text() == "keep\n"


def _config_home(tmp_path: Path) -> tuple[dict[str, str], Path]:
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True, mode=0o700)
    home.chmod(0o700)
    return {"POSTURE_HOME": str(home)}, home / "config" / "config.toml"


def _shared_file(file: Path) -> None:
    file.write_text("[monitor]\ninterval = 3\n")
    file.chmod(0o666)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda f: f.write_text("a = " + "[" * 100_000 + "]" * 100_000 + "\n"),
            "is nested too deeply to be a config: fix or remove it",
        ),
        (lambda f: os.mkfifo(f), "is not a regular file: replace it with a TOML file"),
        (lambda f: f.mkdir(), "is not a regular file: replace it with a TOML file"),
        (
            lambda f: f.write_text("# " + "x" * (1 << 20) + "\n"),
            "is larger than 1 MiB, too large for a config: fix or remove it",
        ),
        (
            lambda f: f.write_bytes(b"[pose]\nmodel = '\xff'\n"),
            "is not valid TOML",
        ),
        (
            lambda f: f.symlink_to(f.with_name("elsewhere.toml")),
            "which cannot be read (No such file or directory): fix the link",
        ),
        (
            lambda f: (_shared_file(f.with_name("shared.toml")), f.symlink_to("shared.toml")),
            "a file another user owns or may write: put a file of your own there",
        ),
    ],
    ids=["nested", "fifo", "folder", "huge", "not-utf8", "dangling-link", "shared-link"],
)
def test_a_config_that_is_no_config_file_is_one_line(
    tmp_path: Path, make: Any, message: str
) -> None:
    """The real CLI (`posture start` reads the config first): a FIFO must not hang it, a
    deep nesting must not crash the parser; one line naming the file, exit 2."""
    from tests.conftest import run_posture

    env, file = _config_home(tmp_path)
    make(file)
    done = run_posture("start", env=env, timeout=20)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"posture: error: {file} ")
    assert message in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not (file.parent.parent / "run" / "monitor.lock").exists()  # nothing started


def test_a_config_linked_from_a_dotfiles_folder_is_read(tmp_path: Path) -> None:
    """Dotfile managers link `config.toml` to a file of the user's elsewhere: it is read
    through the link (the real CLI checks its values), and left as it is."""
    from tests.conftest import run_posture

    env, file = _config_home(tmp_path)
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "posture.toml"
    real.write_text("[monitor]\nretention_days = 30\n")
    real.chmod(0o644)
    file.symlink_to(real)
    fine = run_posture("history", "prune", env=env, timeout=20)  # reads retention_days
    assert fine.returncode == 0, fine.stderr
    real.write_text("[monitor]\nretention_days = -7\n")
    wrong = run_posture("history", "prune", env=env, timeout=20)
    assert wrong.returncode == 2
    assert "retention_days" in wrong.stderr and "-7" in wrong.stderr
    assert wrong.stderr.count("\n") == 1
    assert real.read_text() == "[monitor]\nretention_days = -7\n"
