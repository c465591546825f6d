# Sourced by scripts/check: builds the wheel, installs it into a fresh venv for every other
# Python 3.10+ found on the machine (on PATH, and pyenv's), and runs the demo and --help
# there, saying which ran. setup.cfg's classifiers name the versions so tested.
own=$(.venv/bin/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
work=$(mktemp -d)
.venv/bin/python -m build --wheel --outdir "$work" . >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; echo "scripts/check: the wheel did not build" >&2; exit 1; }
wheel=$(ls "$work"/dataforce_orm-*.whl)
seen=" $own "
ran=""
for py in $(compgen -c python3. | sort -u) "${PYENV_ROOT:-$HOME/.pyenv}"/versions/*/bin/python3; do
    version=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || continue
    case $seen in *" $version "*) continue ;; esac
    "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || continue
    seen="$seen$version "
    venv="$work/venv-$version"
    "$py" -m venv --without-pip "$venv"
    if ! .venv/bin/python -m pip --python "$venv/bin/python" install -q \
            --disable-pip-version-check "$wheel" >"$work/pip-$version.log" 2>&1; then
        cat "$work/pip-$version.log" >&2
        echo "scripts/check: the wheel did not install on Python $version ($py)" >&2
        exit 1
    fi
    (cd "$work" && env -u DFS_API_KEY -u LUML_API_KEY DFS_CONFIG_FILE="$work/none.ini" \
        "$venv/bin/python" -m dataforce_orm demo >"$work/demo-$version.log" 2>&1 \
        && "$venv/bin/dataforce-orm" --help >/dev/null) \
        || { cat "$work/demo-$version.log" >&2; echo "scripts/check: the demo failed on" \
             "Python $version ($py)" >&2; exit 1; }
    ran="$ran $version"
done
rm -rf "$work"
if [ -n "$ran" ]; then
    echo "demo and --help from the wheel passed on Python$ran (besides $own, the suite's)"
else
    echo "no other Python 3.10+ found: the wheel ran on $own only (the suite's)"
fi
unset own work wheel seen ran py version venv
