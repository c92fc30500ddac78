"""`pip install clientlib/python` gives a package that finds libmysimbdp
by MYSIMBDP_LIBRARY (a library in a build tree) or through the dynamic
linker (an installed one; here LD_LIBRARY_PATH stands in for ldconfig)."""
import os
import shutil
import subprocess
import sys

from conftest import BUILD, SRC

PROBE = "import mysimbdp; print(mysimbdp.__version__, " \
    "mysimbdp.library_version(), mysimbdp.__file__)"


def test_pip_install_into_a_venv(tmp_path):
    venv = tmp_path / "venv"
    # setuptools builds in the folder it is given: a copy, not the tree.
    src = tmp_path / "src"
    shutil.copytree(SRC / "clientlib/python", src,
                    ignore=shutil.ignore_patterns("__pycache__", "build",
                                                  "*.egg-info"))
    # System packages for bson; no index needed (no build isolation).
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages",
                    str(venv)], check=True)
    subprocess.run([str(venv / "bin/pip"), "install", "--quiet",
                    "--no-build-isolation", "--no-deps", "--no-index",
                    str(src)], check=True,
                   cwd=tmp_path)
    lib = BUILD / "clientlib"
    # LD_PRELOAD stays: under a sanitized build mysimbdp-python preloads
    # the sanitizer's runtime, which the library needs loaded first.
    clean = {k: v for k, v in os.environ.items()
             if k not in ("MYSIMBDP_LIBRARY", "PYTHONPATH")}
    for extra in ({"MYSIMBDP_LIBRARY": str(lib / "libmysimbdp.so.0")},
                  {"LD_LIBRARY_PATH": str(lib)}):
        out = subprocess.run([str(venv / "bin/python"), "-c", PROBE],
                             env={**clean, **extra}, cwd=tmp_path,
                             capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        version, libversion, where = out.stdout.split()
        assert version == libversion
        assert where.startswith(str(venv)), where
    out = subprocess.run([str(venv / "bin/python"), "-c", PROBE], env=clean,
                         cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode != 0
    assert "set MYSIMBDP_LIBRARY" in out.stderr, out.stderr
