"""Command line: course-lib (or python -m course_lib) run | reproduce | notebooks | grade.

Every failure ends in one line on stderr and a non-zero exit code, never a traceback.
"""

import argparse
import io
import sys
from pathlib import Path

from course_lib import config as run_config
from course_lib.data.mnist import SOURCES, load_mnist
from course_lib.practice.cli import add_practice_commands, notebook_copier
from course_lib.report import CELL_TIMEOUT, reproduce
from course_lib.safe_files import CannotWrite, writable_folder, write_file
from course_lib.validation import SettingError

EXIT_CODES = (
    "exit codes: 0 done; 1 a notebook failed (reproduce), or the run diverged or its ReLUs "
    "died (run); 2 bad input: a wrong argument or folder, nothing was done; 3 a bug in "
    "course_lib; 4 cannot write: a full disk or quota, a read-only folder (nothing "
    "half-written is left; reproduce keeps the previous report); 130 interrupted (Ctrl-C)"
)
# What ``notebooks`` prints for each copy, by what happened to it.
COPY_LINES = {
    "copied": "copied {name}",
    "kept": "kept   {name} (already in {dest}: your copy is not overwritten; --update "
    "replaces the copies you have not edited)",
    "replaced": "replaced {name}: {note}",
    "updated": "updated {name} (you had not edited it)",
    "current": "same   {name} (already the version of this course_lib)",
    "edited": "kept   {name} (you edited it{note}: your copy is not overwritten; to get the "
    "new version, rename your copy and run this again)",
}


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument gives one line instead of the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _add_setting_flags(parser):
    """One flag per RunConfig setting, with its default in the help; what is typed is
    parsed and checked by RunConfig.from_text, whose messages say what was wrong."""
    defaults = run_config.RunConfig()
    for name, setting in run_config.settings().items():
        default = getattr(defaults, name)
        help_text = f"{setting.help} (default: {defaults.text(name)})"
        options = {"dest": name, "default": default, "help": help_text}
        if isinstance(default, bool):
            options["action"] = argparse.BooleanOptionalAction
        elif setting.choices is not None:
            options["choices"] = list(setting.choices)
        parser.add_argument(setting.flag, **options)


def _figure_name(config, source):
    """accuracy_<label>_<every other setting not at its default>_seed<N>.png"""
    defaults = run_config.RunConfig()
    parts = [config.label]
    for name, setting in run_config.settings().items():
        value = getattr(config, name)
        # Settings the label does not show: changing one of them leaves the label as it is.
        unlabelled = defaults.replace(**{name: value}).label == defaults.label
        if name != "seed" and value != getattr(defaults, name) and unlabelled:
            parts.append(f"{setting.flag.lstrip('-')}={config.text(name)}")
    if source != "auto":
        parts.append(f"source={source}")
    slug = "_".join(parts).replace(" / ", "_").replace(" ", "_")
    return f"accuracy_{slug.replace('[', '').replace(']', '')}_seed{config.seed}.png"


def _run(args):
    import matplotlib

    matplotlib.use("Agg")
    from course_lib import plots
    from course_lib.training import print_progress, run

    values = {name: getattr(args, name) for name in run_config.settings()}
    try:
        config = run_config.RunConfig.from_text(**values)
    except SettingError as exc:
        raise ValueError(exc.named(run_config.settings()[exc.name].flag)) from None
    out = writable_folder(args.out)  # before training: a run is never lost to a bad --out
    data = load_mnist(
        normalize=True, one_hot_label=True, dataset=config.dataset, source=args.source
    )
    print(f"data: {data.description}")
    # Ctrl-C ends the run and train() returns what was learned: its figure is kept.
    history = run(config, data, callback=print_progress())
    print(history.summary())
    png = io.BytesIO()
    plots.accuracy_figure(history).savefig(png, format="png", dpi=100)
    print(f"figure: {write_file(out / _figure_name(config, args.source), png.getvalue())}")
    if history.status == "diverged" or history.dead_since is not None:
        return 1
    return 130 if history.status == "stopped" else 0


def _reproduce(args):
    try:  # the notebook runner is the [report] extra, not a dependency of the notebooks
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
    except ModuleNotFoundError as exc:
        raise ValueError(
            f"reproduce needs the notebook runner, which is not installed (no module "
            f'{exc.name!r}): pip install "course-lib[report]"'
        ) from None
    options = ("out", "source", "notebooks", "shipped", "timeout", "jobs")
    try:
        reproduce(**{name: getattr(args, name) for name in options})
    except SettingError as exc:
        raise ValueError(exc.named(f"--{exc.name}")) from None
    except RuntimeError as exc:
        print(f"{args.where}: {exc}", file=sys.stderr)
        return 1
    return 0


def _notebooks(args):
    from course_lib import coursework

    if args.colab or args.nbgitpuller:
        problem = coursework.address_problem(coursework.source_url())
        if problem:
            print(f"{args.where}: warning: {problem}", file=sys.stderr)
        service = "colab" if args.colab else "nbgitpuller"
        links = coursework.notebook_links(service, ref=args.branch, hub_url=args.nbgitpuller)
        for name, link in links:
            print(f"{name}: {link}")
        return 0
    for name, what, note in notebook_copier(args.exercises, args.update)(args.dest):
        note = f"; {note}" if what == "edited" and note else note
        print(COPY_LINES[what].format(name=name, dest=args.dest, note=note))
    print(f"notebooks are in {Path(args.dest).resolve()}")
    return 0


def _add_run(sub):
    run = sub.add_parser("run", help="train one network the way the seed does")
    _add_setting_flags(run)
    source_help = "where the data comes from (default: auto, see the README)"
    run.add_argument("--source", default="auto", choices=SOURCES, help=source_help)
    run.add_argument("--out", default="out", help="folder for the figure (default: out)")
    run.set_defaults(func=_run)


def _add_reproduce(sub):
    rep = sub.add_parser(
        "reproduce", help="execute every notebook and write a report", epilog=EXIT_CODES
    )
    rep.add_argument("--out", default="report", help="folder for the report (default: report)")
    source_help = "data for the notebooks: the bundled sample (default) or full MNIST (auto)"
    rep.add_argument("--source", default="sample", choices=SOURCES, help=source_help)
    rep.add_argument("--notebooks", help="folder of the notebooks (default: the shipped ones)")
    shipped_help = "run the notebooks as shipped, even if they were edited since"
    rep.add_argument("--shipped", action="store_true", help=shipped_help)
    jobs_help = (
        "notebooks executed at once, each in its own kernel (default: 2 on a machine with "
        "two cores or more, else 1); each kernel has one BLAS thread, so the numbers are "
        "the same whatever --jobs"
    )
    rep.add_argument("--jobs", type=int, help=jobs_help)
    timeout_help = "seconds a cell may run before its notebook is reported as failed"
    timeout_help += " (default: %(default)g)"
    rep.add_argument("--timeout", type=float, default=CELL_TIMEOUT, help=timeout_help)
    rep.set_defaults(func=_reproduce)


def _add_notebooks(sub):
    nbs = sub.add_parser("notebooks", help="copy the course notebooks into a folder")
    nbs.add_argument("dest", nargs="?", default="course-notebooks", help="(default: %(default)s)")
    update_help = "replace each copy you have not edited by this version's (edited ones are kept)"
    nbs.add_argument("--update", action="store_true", help=update_help)
    links = nbs.add_mutually_exclusive_group()
    colab_help = "print a Colab link for each notebook instead (from the project's address)"
    links.add_argument("--colab", action="store_true", help=colab_help)
    hub_help = "print an nbgitpuller link for each notebook instead, for the hub at HUB_URL"
    links.add_argument("--nbgitpuller", metavar="HUB_URL", help=hub_help)
    branch_help = (
        "the git branch or tag the links open (default: this version's release tag "
        "for --colab, main for --nbgitpuller)"
    )
    nbs.add_argument("--branch", help=branch_help)
    nbs.set_defaults(func=_notebooks)


def build_parser():
    """The argument parser: one sub-command per ``_add_...`` function."""
    from course_lib.coursework import installed_version

    # Named as it was called: the installed script, or ``python -m course_lib``.
    called = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else ""
    prog = "course-lib" if called == "course-lib" else "python -m course_lib"
    parser = _Parser(prog=prog, description=__doc__.splitlines()[0], epilog=EXIT_CODES)
    version = installed_version() or "(not installed: no package metadata)"
    parser.add_argument("--version", action="version", version=f"course-lib {version}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add in (_add_run, _add_reproduce, _add_notebooks):
        add(sub)
    add_practice_commands(sub, sub.choices["notebooks"])
    return parser


def main(argv=None):
    """Entry point; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.where = where = f"{parser.prog} {args.command}"
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"{where}: interrupted", file=sys.stderr)
        return 130
    except CannotWrite as exc:
        print(f"{where}: error: {exc}", file=sys.stderr)
        return 4
    except (ValueError, OSError, MemoryError) as exc:  # numpy says how much memory it wanted
        print(f"{where}: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug: still one line, with what to send us
        print(f"{where}: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
