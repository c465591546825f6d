# Sourced by the scripts: makes .venv with the package installed (editable) and what the caller
# needs, once per change of the packaging files or the version.
#   source scripts/_venv.sh core   the package and its core dependencies (what the demo needs)
#   source scripts/_venv.sh dev    also the dev extra: lint, types, tests, docs (the check suite)
# (Always name one: a bare `source` would see the calling script's own arguments.)
# pip's output goes to .venv/pip.log and is shown only when the install fails.
want=${1:-}
case $want in
    core) spec=. ;;
    dev) spec='.[dev]' ;;
    *) echo "scripts/_venv.sh: unknown install '$want' (core or dev)" >&2; exit 2 ;;
esac
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip >.venv/pip.log 2>&1 || true
fi
sum=$(cat setup.cfg pyproject.toml dataforce_orm/_version.py | cksum | cut -d' ' -f1)
# The dev install holds everything the core one does.
if [ ! -f ".venv/.installed-$want-$sum" ] && [ ! -f ".venv/.installed-dev-$sum" ]; then
    echo "== installing $spec into .venv (once; log in .venv/pip.log)"
    if ! .venv/bin/python -m pip install -e "$spec" >.venv/pip.log 2>&1; then
        cat .venv/pip.log >&2
        echo "scripts/_venv.sh: pip install -e '$spec' failed (log above)" >&2
        exit 1
    fi
    rm -f .venv/.installed-*
    touch ".venv/.installed-$want-$sum"
fi
unset want spec sum
