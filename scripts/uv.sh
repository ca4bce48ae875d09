# Sourced by scripts/run, scripts/test and scripts/check-latest: puts the pinned uv in
# .tools/ (a venv of its own, installed by pip with every hash checked), then `posture_sync`
# makes .venv exactly the lock. Needs only python3 with venv.
UV_VERSION=0.13.9
export UV_PYTHON_DOWNLOADS=never  # use the machine's python3; never fetch an interpreter
export UV_PROJECT_ENVIRONMENT=.venv
# Compile .pyc files at install, as pip does: uv does not by default, and where
# PYTHONDONTWRITEBYTECODE is set every start would compile mediapipe and matplotlib anew
# (measured: `import mediapipe` 3.6 s without, 1.3 s with).
export UV_COMPILE_BYTECODE=1
UV=.tools/bin/uv

if [ ! -x "$UV" ] || [ "$("$UV" --version 2>/dev/null | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  rm -rf .tools
  python3 -m venv .tools
  .tools/bin/python -m pip --isolated install --quiet --disable-pip-version-check --no-deps \
    --require-hashes -r scripts/uv-requirements.txt
fi

# posture_sync [uv sync options]: .venv holds exactly what uv.lock says, or a clear line.
posture_sync() {
  local why
  if ! why=$("$UV" lock --check --quiet --python python3 2>&1); then
    case "$why" in
      *"needs to be updated"*)
        echo "uv.lock is out of date with pyproject.toml: run '$UV lock', then scripts/test, and commit both." >&2 ;;
      *)
        echo "$why" >&2
        echo "uv could not check uv.lock against pyproject.toml (above): nothing was installed." >&2 ;;
    esac
    return 1
  fi
  "$UV" sync --locked --quiet --python python3 "$@"
}
