# Sourced by the scripts: makes .venv with the package (editable) and its dev extras, once per setup.cfg change.
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
stamp=.venv/.installed-$(cksum setup.cfg | cut -d' ' -f1)
if [ ! -f "$stamp" ]; then
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e '.[dev]'
    rm -f .venv/.installed-*; touch "$stamp"
fi
