"""pysnn.datasets: the data folder, IDX reading, MNIST loading and checksums, downloads (served by
a local HTTP server: good, truncated, corrupted and flaky mirrors) and ``pysnn data``."""

import gzip
import hashlib
import shutil
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from pysnn import ConfigError
from pysnn.cli import main
from pysnn.datasets import data_root, fetch_mnist, load_mnist, mnist_dir, read_idx, verify_mnist
from pysnn.datasets import download as download_module
from pysnn.datasets import mnist as mnist_module

SHARED = Path(__file__).parents[2] / "shared/data/mnist"
NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
LABELS = "t10k-labels-idx1-ubyte"  # the smallest file: the one the download tests fetch

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"the MNIST files are not in {SHARED}")


@pytest.fixture(scope="module")
def train():
    return load_mnist("train", SHARED, download=False)


@pytest.fixture(autouse=True)
def no_retry_delay(monkeypatch):
    monkeypatch.setattr(download_module, "RETRY_DELAY_S", 0.0)


def gz(name: str) -> bytes:
    return (SHARED / f"{name}.gz").read_bytes()


def copy_mnist(folder: Path, names) -> Path:
    """``folder`` holding the shared MNIST files ``names`` (gzip-compressed)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(SHARED / f"{name}.gz", folder / f"{name}.gz")
    return folder


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith("-ubyte.gz"))


class Mirrors:
    """A local HTTP server; ``route(path, *responses)`` serves the responses in turn (the last one
    again and again). A response is bytes, an HTTP error code, ("truncated", bytes) (full
    Content-Length, half the body) or ("slow", seconds, bytes)."""

    def __init__(self):
        self.routes: dict[str, list] = {}
        self.hits: Counter = Counter()
        mirrors = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                mirrors.hits[self.path] += 1
                responses = mirrors.routes.get(self.path, [404])
                response = responses.pop(0) if len(responses) > 1 else responses[0]
                if isinstance(response, int):
                    self.send_error(response)
                    return
                length = None
                if response[0] == "truncated":
                    length, response = len(response[1]), response[1][: len(response[1]) // 2]
                elif response[0] == "slow":
                    time.sleep(response[1])
                    response = response[2]
                self.send_response(200)
                self.send_header("Content-Length", str(length or len(response)))
                self.end_headers()
                self.wfile.write(response)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def route(self, mirror: str, name: str, *responses) -> str:
        """Serve ``name``.gz under ``/mirror/``; returns the mirror's base URL."""
        self.routes[f"/{mirror}/{name}.gz"] = list(responses)
        return f"{self.url}/{mirror}/"


@pytest.fixture
def mirrors():
    server = Mirrors()
    yield server
    server.server.shutdown()
    server.server.server_close()


# --- the data folder ---------------------------------------------------------------------------


def test_data_root_argument_then_env_then_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("PYSNN_DATA", str(tmp_path / "env"))
    assert data_root(tmp_path / "arg") == tmp_path / "arg"
    assert data_root() == tmp_path / "env"
    monkeypatch.delenv("PYSNN_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data_root() == tmp_path / "xdg/pysnn/data"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_root() == tmp_path / "home/.cache/pysnn/data"


def test_mnist_folder_is_the_root_if_it_holds_the_files_else_its_mnist_subfolder(tmp_path):
    assert mnist_dir(SHARED) == SHARED
    assert mnist_dir(SHARED.parent) == SHARED
    assert mnist_dir(tmp_path) == tmp_path / "mnist"
    copy_mnist(tmp_path, [LABELS])
    assert mnist_dir(tmp_path) == tmp_path


# --- loading -----------------------------------------------------------------------------------


def test_train_split(train):
    images, labels = train
    assert images.shape == (60000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (60000,) and labels.dtype == np.uint8
    assert labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert np.bincount(labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert images.min() == 0 and images.max() == 255
    assert int(images.sum(dtype=np.int64)) == 1567298545
    assert int(images[0].sum()) == 27525 and images[0, 14, 14] == 240  # the first "5"
    assert images.flags.writeable and images.flags.c_contiguous


def test_test_split_from_the_parent_folder():
    images, labels = load_mnist("test", SHARED.parent, download=False)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and labels.dtype == np.uint8
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert int(images.sum(dtype=np.int64)) == 264923200


def test_unknown_split_is_rejected():
    with pytest.raises(ConfigError, match=r"split must be one of 'train', 'test', got 'validation'"):
        load_mnist("validation", SHARED)


def test_missing_files_without_download(tmp_path):
    copy_mnist(tmp_path / "mnist", [NAMES[2]])
    with pytest.raises(ConfigError, match=r"missing from .*mnist: t10k-labels-idx1-ubyte; pass download=True"):
        load_mnist("test", tmp_path, download=False)


def test_uncompressed_and_gzip_files_mix(tmp_path):
    folder = copy_mnist(tmp_path, [NAMES[2]])
    (folder / LABELS).write_bytes(gzip.decompress(gz(LABELS)))
    images, labels = load_mnist("test", folder, download=False)
    expected_images, expected_labels = load_mnist("test", SHARED, download=False)
    np.testing.assert_array_equal(images, expected_images)
    np.testing.assert_array_equal(labels, expected_labels)


def test_md5_rejects_a_one_byte_change(tmp_path):
    folder = copy_mnist(tmp_path, [NAMES[2]])
    content = bytearray(gzip.decompress(gz(LABELS)))
    content[8] = 3  # the first label, 7 -> 3: still a valid IDX file
    (folder / LABELS).write_bytes(bytes(content))
    with pytest.raises(ConfigError, match=r"t10k-labels-idx1-ubyte: MD5 of the uncompressed content is .* expected "
                       r"27ae3e4e09519cfbb04c329615203637 .*delete it and fetch it again"):
        load_mnist("test", folder, download=False)
    report = verify_mnist(folder)
    assert report[NAMES[2]] == "ok"
    assert "MD5" in report[LABELS]
    assert report[NAMES[0]] == report[NAMES[1]] == f"missing from {folder}"


def test_verify_shared_folder():
    assert verify_mnist(SHARED) == dict.fromkeys(NAMES, "ok")


# --- IDX ---------------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray, code: int) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_other_types(tmp_path, compress):
    array = np.arange(-6, 6, dtype=np.int32).reshape(3, 4) * 1000
    content = idx_bytes(array, 0x0C)
    path = tmp_path / "x.idx"
    path.write_bytes(gzip.compress(content) if compress else content)
    out = read_idx(path)
    assert out.dtype == np.dtype("int32") and out.dtype.isnative and out.flags.writeable
    np.testing.assert_array_equal(out, array)


LABELS_IDX = idx_bytes(np.arange(10, dtype=np.uint8), 0x08)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x1f\x8b" + b"garbage", r"damaged gzip data"),
        (gzip.compress(LABELS_IDX)[:-12], r"damaged gzip data"),
        (b"PK\x03\x04" + LABELS_IDX, r"not a valid IDX file, it starts with 504b0304"),
        (b"\x00\x00\x07\x01" + LABELS_IDX[4:], r"unknown type code 0x07"),
        (LABELS_IDX[:6], r"too short for the header of a rank-1 array"),
        (LABELS_IDX[:-1], r"declares shape \(10,\) of uint8 \(10 bytes of data\), the file holds 9 bytes"),
        (LABELS_IDX + b"\x00", r"the file holds 11 bytes"),
    ],
    ids=["not-gzip", "truncated-gzip", "magic", "type", "header", "truncated", "extra"],
)
def test_malformed_idx_file_names_file_and_fix(tmp_path, content, message):
    path = tmp_path / "labels.gz"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=message) as error:
        read_idx(path)
    assert str(path) in str(error.value) and "delete it and download it again" in str(error.value)


def test_malformed_mnist_file_says_fetch_again(tmp_path):
    folder = copy_mnist(tmp_path, [NAMES[2]])
    (folder / f"{LABELS}.gz").write_bytes(gz(LABELS)[:1000])
    with pytest.raises(ConfigError, match=r"labels-idx1-ubyte.gz: damaged gzip data .*`pysnn data fetch`"):
        load_mnist("test", folder, download=False)


# --- downloads ---------------------------------------------------------------------------------


def test_fetch_downloads_every_missing_file(tmp_path, mirrors):
    dead = mirrors.route("dead", LABELS, 404)
    good = ""
    for name in NAMES:
        good = mirrors.route("good", name, gz(name))
    reports = []
    paths = fetch_mnist(tmp_path, mirrors=[dead, good], report=lambda path, status: reports.append((path, status)))
    assert paths == [tmp_path / "mnist" / f"{name}.gz" for name in NAMES]
    assert reports == [(path, "downloaded") for path in paths]
    assert verify_mnist(tmp_path) == dict.fromkeys(NAMES, "ok")
    assert leftovers(tmp_path / "mnist") == []
    assert mirrors.hits[f"/dead/{NAMES[0]}.gz"] == 1  # a 404 is not retried


def test_fetch_leaves_present_files_alone(tmp_path, mirrors):
    copy_mnist(tmp_path / "mnist", NAMES[:3])
    reports = []
    url = mirrors.route("good", LABELS, gz(LABELS))  # one URL, not a list
    paths = fetch_mnist(tmp_path, mirrors=url, report=lambda *report: reports.append(report))
    assert [status for _, status in reports] == ["present"] * 3 + ["downloaded"]
    assert sum(mirrors.hits.values()) == 1
    assert fetch_mnist(SHARED, mirrors=[]) == [SHARED / f"{name}.gz" for name in NAMES]
    assert paths[3].read_bytes() == gz(LABELS)


def test_load_downloads_missing_files(tmp_path, mirrors, monkeypatch):
    copy_mnist(tmp_path / "mnist", [NAMES[2]])
    monkeypatch.setattr(mnist_module, "MIRRORS", [mirrors.route("good", LABELS, gz(LABELS))])
    images, labels = load_mnist("test", tmp_path)
    assert labels[:5].tolist() == [7, 2, 1, 0, 4] and images.shape == (10000, 28, 28)
    assert (tmp_path / "mnist" / f"{LABELS}.gz").is_file()


def fetch_labels(folder: Path, urls, retries=3, timeout=30.0) -> None:
    """Fetch into ``folder``, which holds every MNIST file but the test labels."""
    copy_mnist(folder, NAMES[:3])
    fetch_mnist(folder, mirrors=urls, retries=retries, timeout=timeout)


def test_truncated_download_is_retried_then_leaves_nothing(tmp_path, mirrors):
    url = mirrors.route("cut", LABELS, ("truncated", gz(LABELS)))
    with pytest.raises(ConfigError) as error:
        fetch_labels(tmp_path, [url], retries=1)
    size = len(gz(LABELS))
    assert f"{url}{LABELS}.gz: truncated: received {size // 2} of {size} bytes (2 attempts)" in str(error.value)
    assert f"save it as {tmp_path / LABELS}.gz" in str(error.value)
    assert leftovers(tmp_path) == [] and not (tmp_path / f"{LABELS}.gz").exists()


def test_corrupted_download_is_rejected_and_leaves_nothing(tmp_path, mirrors):
    content = bytearray(gzip.decompress(gz(LABELS)))
    content[-1] ^= 1
    url = mirrors.route("bad", LABELS, gzip.compress(bytes(content)))
    with pytest.raises(ConfigError) as error:
        fetch_labels(tmp_path, [url])
    digest = hashlib.md5(bytes(content)).hexdigest()
    wrong = f"{url}{LABELS}.gz: the downloaded file is wrong: MD5 of the uncompressed content is {digest}"
    assert wrong in str(error.value)
    assert mirrors.hits[f"/bad/{LABELS}.gz"] == 1  # wrong content is not retried
    assert leftovers(tmp_path) == [] and not (tmp_path / f"{LABELS}.gz").exists()


def test_server_error_is_retried(tmp_path, mirrors):
    url = mirrors.route("flaky", LABELS, 503, gz(LABELS))
    fetch_labels(tmp_path, [url], retries=1)
    assert mirrors.hits[f"/flaky/{LABELS}.gz"] == 2
    assert verify_mnist(tmp_path)[LABELS] == "ok"


def test_without_retries_a_server_error_fails(tmp_path, mirrors):
    url = mirrors.route("flaky", LABELS, 503, gz(LABELS))
    with pytest.raises(ConfigError, match=r"(?m)labels-idx1-ubyte.gz: HTTP 503 Service Unavailable \(1 attempt\)$"):
        fetch_labels(tmp_path, [url], retries=0)


def test_timeout(tmp_path, mirrors):
    url = mirrors.route("slow", LABELS, ("slow", 1.0, gz(LABELS)))
    with pytest.raises(ConfigError, match=r"slow/t10k-labels-idx1-ubyte.gz: .*timed out"):
        fetch_labels(tmp_path, [url], retries=0, timeout=0.2)


def test_every_mirror_failing_lists_each(tmp_path, mirrors):
    urls = [
        mirrors.route("missing", "nothing", 404),
        mirrors.route("cut", LABELS, ("truncated", gz(LABELS))),
        mirrors.route("bad", LABELS, b"not gzip"),
    ]
    with pytest.raises(ConfigError) as error:
        fetch_labels(tmp_path, urls, retries=0)
    lines = str(error.value).splitlines()
    assert lines[0] == f"could not download {LABELS}.gz:"
    assert lines[1] == f"  {urls[0]}{LABELS}.gz: HTTP 404 Not Found"
    assert lines[2].startswith(f"  {urls[1]}{LABELS}.gz: truncated")
    assert lines[3].startswith(f"  {urls[2]}{LABELS}.gz: the downloaded file is wrong: MD5")
    assert lines[4] == f"Download it by hand from one of these URLs and save it as {tmp_path / LABELS}.gz."


def test_fetch_arguments_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="retries must be >= 0, got -1"):
        fetch_mnist(tmp_path, mirrors=["http://127.0.0.1:9/"], retries=-1)
    with pytest.raises(ConfigError, match="no URL to download train-images-idx3-ubyte.gz from"):
        fetch_mnist(tmp_path, mirrors=[])
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match=r"cannot create the data folder .*file/mnist .*choose a writable one"):
        fetch_mnist(tmp_path / "file", mirrors=["http://127.0.0.1:9/"])


# --- the command line --------------------------------------------------------------------------


def test_cli_verify(capsys, tmp_path):
    assert main(["data", "verify", "--root", str(SHARED.parent)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"MNIST in {SHARED}"] + [f"{name:<24} ok" for name in NAMES]

    copy_mnist(tmp_path / "mnist", NAMES[2:])
    assert main(["data", "verify", "--root", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines()[1:] == [f"{name:<24} missing from {tmp_path / 'mnist'}" for name in NAMES[:2]] + [
        f"{name:<24} ok" for name in NAMES[2:]
    ]
    assert "error: 2 of 4 MNIST files missing or damaged: delete the damaged ones, then run " in captured.err
    assert f"`pysnn data fetch --root {tmp_path}`" in captured.err


def test_cli_fetch(capsys, tmp_path, mirrors, monkeypatch):
    assert main(["data", "fetch", "--root", str(SHARED)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{SHARED / name}.gz  present" for name in NAMES]

    monkeypatch.setattr(mnist_module, "MIRRORS", [mirrors.route("missing", LABELS, 404)])
    assert main(["data", "fetch", "--root", str(tmp_path)]) == 1
    assert "error: could not download train-images-idx3-ubyte.gz:" in capsys.readouterr().err
