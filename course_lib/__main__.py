"""Command line: ``python -m course_lib run`` and ``python -m course_lib reproduce``."""

import argparse
import sys
from pathlib import Path

from course_lib.multi_layer_net import parse_hidden_sizes


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument gives one line instead of the usage block."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _hidden_sizes(text):
    try:
        return parse_hidden_sizes(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _weight_init(text):
    try:
        return float(text)
    except ValueError:
        return text


def _run(args):
    import matplotlib

    matplotlib.use("Agg")
    from course_lib.data.mnist import load_mnist
    from course_lib.multi_layer_net import MultiLayerNet
    from course_lib.training import print_progress, train

    network = MultiLayerNet(
        input_size=784,
        hidden_size_list=args.hidden,
        output_size=10,
        activation=args.activation,
        weight_init_std=args.weight_init,
        seed=args.seed,
    )
    data = load_mnist(normalize=True, one_hot_label=True, dataset=args.dataset, source=args.source)
    history = train(
        network,
        data,
        iters_num=args.iters,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        seed=args.seed,
        callback=print_progress(),
    )
    print(history.summary())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    hidden = "-".join(str(n) for n in args.hidden)
    path = out / f"accuracy_{args.activation}_{args.weight_init}_{hidden}.png"
    history.figure().savefig(path, dpi=100)
    print(f"figure: {path}")
    return 0 if history.status != "diverged" else 1


def _reproduce(args):
    from course_lib.report import reproduce

    try:
        reproduce(out_dir=Path(args.out), source=args.source, notebooks=args.notebooks)
    except RuntimeError as exc:
        print(f"python -m course_lib reproduce: {exc}", file=sys.stderr)
        return 1
    return 0


def build_parser():
    """The argument parser of ``python -m course_lib``."""
    parser = _Parser(prog="python -m course_lib", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="train one network the way the seed does")
    run.add_argument("--activation", default="relu", choices=["sigmoid", "relu", "tanh"])
    run.add_argument(
        "--weight-init",
        type=_weight_init,
        default=0.01,
        help="a std such as 0.01, or He, Xavier, Glorot (default 0.01)",
    )
    run.add_argument("--hidden", type=_hidden_sizes, default=[40, 20], help="e.g. 40,20")
    run.add_argument("--iters", type=int, default=2000)
    run.add_argument("--batch-size", type=int, default=100)
    run.add_argument("--lr", type=float, default=0.1)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--dataset", default="mnist", choices=["mnist", "fashion"])
    run.add_argument("--source", default="auto", choices=["auto", "sample", "download"])
    run.add_argument("--out", default="out", help="folder for the figure (default out/)")
    run.set_defaults(func=_run)

    rep = sub.add_parser("reproduce", help="execute every notebook and write a report")
    rep.add_argument("--out", default="report", help="folder for the report (default report/)")
    rep.add_argument(
        "--source",
        default="sample",
        choices=["auto", "sample", "download"],
        help="data for the notebooks: the bundled sample (default) or full MNIST",
    )
    rep.add_argument("--notebooks", default=None, help="folder of the notebooks")
    rep.set_defaults(func=_reproduce)
    return parser


def main(argv=None):
    """Entry point; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:
        print(f"{parser.prog} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog} {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
