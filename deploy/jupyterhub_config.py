"""JupyterHub configuration for teaching the course on one machine.

Two ways to use it (deploy/README.md has the steps):

- The Littlest JupyterHub (TLJH): copy it to /opt/tljh/config/jupyterhub_config.d/course.py
  and run `sudo tljh-config reload`. TLJH loads it after its own settings, so this file
  only adds the course's settings and leaves the spawner, login, proxy and HTTPS to TLJH.
- Plain JupyterHub: `jupyterhub -f deploy/jupyterhub_config.py`. Then it also picks the
  spawner (systemd if jupyterhub-systemdspawner is installed, else local processes) and
  lets in only the users named in allowed_users.txt (and admin_users.txt) in the hub's
  folder, /srv/jupyterhub (COURSE_HUB_DIR to choose another): the hub refuses to start
  without one, since JupyterHub 5 would otherwise start and let nobody in.

tests/test_hub.py starts a real hub from this file, with only a test login (no system
accounts there) and ports on top, so what is set here is what the test exercises.
"""

import os
import shlex
import sys
from pathlib import Path

c = get_config()  # noqa: F821 (provided by JupyterHub's config loader)

ON_TLJH = Path("/opt/tljh/hub").is_dir()

# The environment the students' servers and kernels run in: TLJH keeps it apart from the
# hub's; on a plain install it is the hub's own unless COURSE_USER_ENV_BIN names another.
# course-lib must be installed there.
USER_ENV_BIN = Path(
    os.environ.get("COURSE_USER_ENV_BIN")
    or ("/opt/tljh/user/bin" if ON_TLJH else Path(sys.executable).parent)
)

# Prepared once by the instructor (README: "Data"): the four standard MNIST .gz files,
# owned by root and readable by all. The loader only reads a data folder, so one copy
# serves the whole class and nobody downloads MNIST during the lesson.
COURSE_DATA = "/srv/course-data/mnist"

# The hub's own folder (plain JupyterHub): its database, cookie secret and who may log in.
HUB_DIR = Path(os.environ.get("COURSE_HUB_DIR") or "/srv/jupyterhub")

# Per-student environment. The course's matrix products are small (batches of 100), so a
# second BLAS thread gains a student little, while on a shared machine every extra
# thread competes with the other students for the same cores and makes everyone slower.
# COURSE_LIB_MNIST_SOURCE is deliberately absent: with it set to "sample" students would
# train on the 10,000-digit sample instead of the full data in COURSE_LIB_DATA.
c.Spawner.environment = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "COURSE_LIB_DATA": COURSE_DATA,
}

# Memory: one student's server + kernel peaks at about 0.55 GB with full-size data
# (benchmarks/bench_hub.py); 1 GB leaves room for a second notebook's kernel. Enforced by
# SystemdSpawner (TLJH's spawner), DockerSpawner and KubeSpawner; LocalProcessSpawner
# only passes it on as MEM_LIMIT for display. On TLJH, a `tljh-config set limits.memory`
# value wins over this default.
if not c.Spawner.get("mem_limit"):
    c.Spawner.mem_limit = "1G"
# One student cannot use more than one core (each training is single-threaded anyway),
# so a runaway cell never takes the whole machine. Enforced by the same spawners.
if not c.Spawner.get("cpu_limit"):
    c.Spawner.cpu_limit = 1.0

# How students get the notebooks: each time their server starts, as the student and in
# their home, copy the numbered notebooks into ~/course, and replace a copy the student
# has not edited by the installed course_lib's version (--update), so a fix the
# instructor installs mid-course reaches everyone at their next start. A notebook the
# student has edited is never overwritten; a failure is logged and the server starts
# anyway. A pre_spawn_hook would run inside the hub as root
# (files owned by root, before TLJH has even created the student's system user), so
# the copy runs in front of the server instead. The alternative, an nbgitpuller link,
# is in deploy/README.md.
_python = shlex.quote(str(USER_ENV_BIN / "python"))
_singleuser = shlex.quote(str(USER_ENV_BIN / "jupyterhub-singleuser"))
c.Spawner.cmd = [
    "/bin/sh",
    "-c",
    f'{_python} -m course_lib notebooks --update "$HOME/course"'
    ' || echo "course: could not copy the notebooks into $HOME/course" >&2;'
    f' exec {_singleuser} "$@"',
    "course-singleuser",  # $0 of the script; the spawner's arguments follow as "$@"
]
c.Spawner.default_url = "/lab"

# A class starts at the same minute: 30 servers starting at once on 2 cores take longer
# than the default 60 s, and a timed-out spawn makes students press the button again.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 120

if not ON_TLJH:
    try:
        import systemdspawner  # noqa: F401
    except ImportError:
        # System users from PAM, no limits enforced: fine for a trusted group only.
        c.JupyterHub.spawner_class = "localprocess"
    else:
        # Enforces mem_limit and cpu_limit through cgroups, like TLJH does.
        c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
        c.SystemdSpawner.extra_paths = [str(USER_ENV_BIN)]

    # Keep state out of the working directory the hub happens to be started from.
    c.JupyterHub.db_url = f"sqlite:///{HUB_DIR / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(HUB_DIR / "jupyterhub_cookie_secret")

    # Who may log in: the names in allowed_users.txt (one a line, '#' starts a comment),
    # read at each start. The file is the whole list: a name taken out of it is refused
    # at the next restart, and a user added only in the admin page is not let in.
    # (TLJH keeps its own list: `tljh-config add-item users.allowed NAME`.)
    def _names(path):
        if not path.is_file():
            return set()
        lines = path.read_text(encoding="utf-8").splitlines()
        return {line.split("#")[0].strip() for line in lines} - {""}

    c.Authenticator.allowed_users = _names(HUB_DIR / "allowed_users.txt")
    c.Authenticator.admin_users = _names(HUB_DIR / "admin_users.txt")
    c.Authenticator.allow_existing_users = False
    if not c.Authenticator.allowed_users | c.Authenticator.admin_users:
        raise SystemExit(
            f"course: nobody may log in: write the students' user names into "
            f"{HUB_DIR / 'allowed_users.txt'} (one a line) and your own into "
            f"{HUB_DIR / 'admin_users.txt'}, then start the hub again (deploy/README.md)"
        )

    # Servers of students who left free their memory for the others after an hour of
    # inactivity (TLJH runs its own culler, `tljh-config set services.cull.timeout`).
    try:
        import jupyterhub_idle_culler  # noqa: F401
    except ImportError:
        pass
    else:
        c.JupyterHub.services.append(
            {
                "name": "idle-culler",
                "command": [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=3600"],
            }
        )
        c.JupyterHub.load_roles.append(
            {
                "name": "idle-culler",
                "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
                "services": ["idle-culler"],
            }
        )
