"""BindsNET baseline for the minibatch scaling benchmark (experiment 1 of
Saunders et al. 2019, "Minibatch Processing in Spiking Neural Networks").

Network: 100 Poisson inputs (rates ~ U[0, 120] Hz, dt = 1 ms) -> dense
Connection (w = 0.1 + 0.1 * N(0, 1)) -> n_out LIFNodes (default parameters).
With --stdp the connection learns with PostPre, nu = (1e-4, 1e-2), traces on.
Only ``network.run`` is timed; network construction and the Bernoulli input
spike trains (p = rate * dt / 1000, shape (steps, batch, 100)) are prepared
beforehand. State variables (and, with --stdp, the weights) are reset before
every repeat; the best of --repeats runs is reported as one JSON line per
configuration. This script is standalone and does not import pysnn.

Environment (outside the repo; bindsnet 0.3.4 pins torch>=2.14, so install it
without its dependencies and add those by hand, keeping torch at 2.13.0):

    python3 -m venv /work/venvs/bindsnet
    /work/venvs/bindsnet/bin/pip install torch==2.13.0
    /work/venvs/bindsnet/bin/pip install --no-deps bindsnet==0.3.4
    echo torch==2.13.0 > /tmp/pin-torch.txt
    /work/venvs/bindsnet/bin/pip install -c /tmp/pin-torch.txt torchvision==0.28.0 \
        "ale-py<1" "gymnasium[atari]>=1,<2" "matplotlib>=3,<4" "numpy>=2,<3" \
        "opencv-python>=4.14,<6" "pandas>=3,<4" "scikit-image<1" "scikit-learn>=1,<2" \
        "scipy>=1,<2" "tensorboardX>=2.6.4,<3" "tqdm>=4,<5"

Example:

    /work/venvs/bindsnet/bin/python benchmarks/bindsnet_scaling.py \
        --n-out 100,1000 --batch 1,8,64 [--stdp] --threads 2
"""
import argparse
import json
import sys
import time
from importlib.metadata import version

import torch


def import_bindsnet():
    """Import bindsnet, tolerating a torchvision whose C++ ops cannot load.

    ``import bindsnet`` imports torchvision (for its dataset wrappers). The
    torchvision wheels on PyPI are CUDA builds; next to a CPU-only torch their
    ops library fails to load and torchvision's import then dies registering a
    fake kernel for the missing ``torchvision::nms``/``qnms`` ops. Declaring
    those two schemas lets the import finish; this benchmark never calls them.
    """
    try:
        import torchvision  # noqa: F401
    except RuntimeError as err:
        if "torchvision::" not in str(err):
            raise
        for name in [m for m in sys.modules if m.split(".")[0] == "torchvision"]:
            del sys.modules[name]
        lib = torch.library.Library("torchvision", "DEF")
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor qdets, Tensor scores, float iou_threshold) -> Tensor")
        import_bindsnet.keepalive = lib  # the schemas live as long as `lib`
    import bindsnet

    return bindsnet


def build_network(bindsnet, n_in, n_out, batch, stdp, dt=1.0):
    """Input -> Connection -> LIFNodes, optionally with PostPre learning."""
    from bindsnet.learning import PostPre
    from bindsnet.network import Network
    from bindsnet.network.nodes import Input, LIFNodes
    from bindsnet.network.topology import Connection

    network = Network(dt=dt, batch_size=batch)
    source = Input(n=n_in, traces=stdp)
    target = LIFNodes(n=n_out, traces=stdp)
    learning = dict(update_rule=PostPre, nu=(1e-4, 1e-2)) if stdp else {}
    w = 0.1 + 0.1 * torch.randn(n_in, n_out)
    conn = Connection(source=source, target=target, w=w, **learning)
    network.add_layer(source, name="I")
    network.add_layer(target, name="O")
    network.add_connection(conn, source="I", target="O")
    return network, conn


def poisson_inputs(steps, batch, n_in, dt=1.0, max_rate=120.0):
    """Bernoulli spike trains, shape (steps, batch, n_in), rates ~ U[0, max_rate] Hz."""
    p = torch.rand(batch, n_in) * max_rate * dt / 1000.0
    return torch.rand(steps, batch, n_in) < p


def int_list(text):
    return [int(x) for x in text.split(",") if x.strip()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-out", type=int_list, default=[100, 1000])
    parser.add_argument("--batch", type=int_list, default=[1, 8, 64])
    parser.add_argument("--n-in", type=int, default=100)
    parser.add_argument("--stdp", action="store_true")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout-seconds", type=float, default=600.0,
                        help="total budget; configurations after it is spent are skipped")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    bindsnet = import_bindsnet()
    start = time.perf_counter()

    for n_out in args.n_out:
        for batch in args.batch:
            record = {"simulator": "bindsnet", "bindsnet": version("bindsnet"),
                      "torch": torch.__version__, "n_out": n_out, "batch": batch,
                      "stdp": args.stdp, "steps": args.steps, "threads": args.threads}
            if time.perf_counter() - start >= args.timeout_seconds:
                print(json.dumps({**record, "skipped": True}), flush=True)
                continue
            network, conn = build_network(bindsnet, args.n_in, n_out, batch, args.stdp)
            w0 = conn.w.detach().clone()
            spikes = poisson_inputs(args.steps, batch, args.n_in)
            times = []
            for _ in range(args.repeats):
                network.reset_state_variables()
                with torch.no_grad():
                    conn.w.copy_(w0)  # STDP changes w; start every repeat alike
                t0 = time.perf_counter()
                network.run(inputs={"I": spikes}, time=args.steps)
                times.append(time.perf_counter() - t0)
                if time.perf_counter() - start >= args.timeout_seconds:
                    break  # budget spent: report what was measured so far
            record.update(seconds=min(times), repeats=len(times))
            print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
