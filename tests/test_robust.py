"""Hostile inputs, signals, full disks and closed pipes (issue 17): each case ends in one line
on stderr with its documented exit code, leaves no partial output, and stays bounded.

The fault matrix runs the real CLI in subprocesses where the fault lives at the process level
(signals, file descriptors, a full tmpfs); the rest runs in-process. The fuzz suite is in
tests/test_fuzz_aec.py.
"""

from __future__ import annotations

import io
import math
import os
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from aecodec.cli.main import main
from aecodec.errors import AecError, FormatError, OptionError, OutputError

from .conftest import REPO, synth_music
from .fuzz import aecmut

GOLDEN = REPO / "tests/data/golden.aec"
STEREO_ANS = REPO / "tests/data/fuzz/stereo-12k-ans-phase.aec"
ENV = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def run(*args: object) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, [str(a) for a in args])
    return r.exit_code, r.stdout, r.stderr


def cli(*args: object, timeout: float = 120,
        stdout: object = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aecodec", *map(str, args)],  # type: ignore[call-overload]
                          check=False, stdout=stdout, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, cwd=REPO, env=ENV)


def one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def parts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith((".aecpart", ".tmp")))


def forge(data: bytes, **patch: object) -> bytes:
    p = aecmut.parse(data)
    p.meta.update(patch)
    return aecmut.build(p)


# --- 1: bounded decompression ---------------------------------------------------------------

@pytest.mark.parametrize("declared", [None, 2**31, 2**40])
def test_zstd_frames_that_lie_are_refused_within_bounded_memory(declared: int | None) -> None:
    """Every stream of every chunk replaced by a frame that declares (or inflates to) far more
    than the metadata allows: a FormatError, never a big allocation."""
    from aecodec.codec.decode import decode_audio
    for seed in (GOLDEN, STEREO_ANS):
        base = aecmut.parse(seed.read_bytes())
        for k, chunk in enumerate(base.chunks):
            assert isinstance(chunk, list)
            for i in range(len(chunk)):
                p = aecmut.parse(seed.read_bytes())
                streams = p.chunks[k]
                assert isinstance(streams, list)
                kind, step, _ = streams[i]
                streams[i] = (kind, step, aecmut.zstd_frame(declared, [(0, 1 << 17)] * 2048))
                tracemalloc.start()
                try:
                    with pytest.raises(AecError):
                        decode_audio(aecmut.build(p), iters=0)
                finally:
                    peak = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                assert peak < 64 << 20, (seed.name, k, kind, peak)


def test_chunk_frames_beyond_the_limit_is_refused() -> None:
    from aecodec.format.meta import MAX_CHUNK_FRAMES, validate_meta
    meta = aecmut.parse(GOLDEN.read_bytes()).meta
    meta["chunk_frames"] = MAX_CHUNK_FRAMES + 1
    with pytest.raises(FormatError, match="chunk_frames"):
        validate_meta(meta, name="x")


# --- 2: bench report outputs ----------------------------------------------------------------

def test_bench_reports_are_checked_before_the_run(tmp_path: Path) -> None:
    wav = tmp_path / "v.wav"
    sf.write(wav, synth_music(1.0, 22050), 22050)
    before = wav.read_bytes()
    for args in (["--json", wav], ["--csv", tmp_path / "no" / "x.csv"], ["--plot", tmp_path],
                 ["--json", tmp_path / "a", "--csv", tmp_path / "a"]):
        code, _, err = run("bench", wav, *args)
        assert code == 5, err
        one_line(err)
    (tmp_path / "r.json").write_text("keep")
    code, _, err = run("bench", wav, "--json", tmp_path / "r.json")
    assert code == 5 and "--force" in err and (tmp_path / "r.json").read_text() == "keep"
    assert wav.read_bytes() == before


# --- 3: batch name collisions ---------------------------------------------------------------

def test_batch_outputs_that_collide_are_refused(tmp_path: Path) -> None:
    src = tmp_path / "in"
    (src / "d1").mkdir(parents=True)
    (src / "d2").mkdir()
    x = synth_music(1.0, 22050)
    for p in (src / "x.wav", src / "x.flac", src / "d1" / "a.wav", src / "d2" / "a.wav"):
        sf.write(p, x, 22050)
    for args in ([src, "-o", tmp_path / "o1"], [src / "d1" / "a.wav", src / "d2" / "a.wav",
                                                  "-o", tmp_path / "o2"]):
        code, _, err = run("encode", *args)
        assert code == 5 and "would be written from both" in one_line(err)
    assert not list((tmp_path / "o1").rglob("*.aec")) and not list((tmp_path / "o2").rglob("*.aec"))


# --- 4: signals -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def long_inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("long")
    for i in range(3):
        sf.write(folder / f"s{i}.wav", synth_music(40.0, 22050, seed=i), 22050)
    return folder


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="signals and /proc: Linux")
@pytest.mark.parametrize(("sig", "jobs"), [(signal.SIGTERM, 1), (signal.SIGHUP, 1),
                                           (signal.SIGINT, 1), (signal.SIGTERM, 2),
                                           (signal.SIGINT, 2)])
def test_signals_leave_no_partial_output(long_inputs: Path, tmp_path: Path, sig: int,
                                         jobs: int) -> None:
    out = tmp_path / "out"
    out.mkdir()
    args = ([long_inputs / "s0.wav", out / "s0.aec"] if jobs == 1
            else [long_inputs, "-o", out, "-j", jobs])
    p = subprocess.Popen([sys.executable, "-m", "aecodec", "encode", *map(str, args)],
                         stderr=subprocess.PIPE, text=True, cwd=REPO, env=ENV)
    deadline = time.time() + 90
    while not parts(out) and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
    assert parts(out), "the encode never started writing"
    workers = _children(p.pid)
    p.send_signal(sig)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 128 + sig, err
    line = one_line(err)
    assert ("interrupted" if sig == signal.SIGINT else signal.Signals(sig).name) in line
    time.sleep(0.5)
    assert parts(out) == [], "temp files left behind"
    assert not [w for w in workers if _alive(w)], "workers outlived the command"
    kept = sorted(q.name for q in out.iterdir())
    if jobs == 1:
        assert kept == [] and "no output written" in line
    else:  # the message counts what was complete, and those files are whole
        assert f"{len(kept)} of 3 outputs" in line
        for q in out.iterdir():
            aecmut.parse(q.read_bytes())


def test_stale_temp_files_of_dead_processes_are_removed(tmp_path: Path) -> None:
    from aecodec.files.atomic import STALE_SECONDS, atomic_output
    dead = tmp_path / ".x.aec.99999999.abcdefgh.aecpart"
    mine = tmp_path / f".x.aec.{os.getpid()}.abcdefgh.aecpart"
    fresh = tmp_path / ".y.aec.99999998.abcdefgh.aecpart"
    other = tmp_path / ".x.aec.12345678.tmp"  # not our naming: never touched
    for f in (dead, mine, fresh, other):
        f.write_bytes(b"x")
    old = time.time() - STALE_SECONDS - 5
    for f in (dead, mine, other):
        os.utime(f, (old, old))
    with atomic_output(tmp_path / "z.aec", force=False) as f:
        f.write(b"data")
    assert not dead.exists() and mine.exists() and fresh.exists() and other.exists()


def test_a_long_output_name_fits_the_temp_name(tmp_path: Path) -> None:
    from aecodec.files.atomic import atomic_output
    target = tmp_path / ("n" * 250 + ".aec")
    with atomic_output(target, force=False) as f:
        f.write(b"x")
    assert target.read_bytes() == b"x"


# --- 5: times -------------------------------------------------------------------------------

def test_non_finite_times_are_usage_errors(tmp_path: Path) -> None:
    from aecodec.codec.decode import output_span
    meta = aecmut.parse(GOLDEN.read_bytes()).meta
    for start, duration in ((math.nan, None), (math.inf, None), (-1.0, None), (0.0, math.nan),
                            (0.0, -2.0), (0.0, 0.0)):
        with pytest.raises(OptionError):
            output_span(meta, rate=meta["rate"], start=start, duration=duration)
    total = meta["length"]
    assert output_span(meta, rate=meta["rate"], duration=math.inf) == (0, total)
    assert output_span(meta, rate=meta["rate"], duration=1e308) == (0, total)
    code, _, err = run("decode", GOLDEN, tmp_path / "o.wav", "--start", "nan")
    assert code == 2 and "nan" in one_line(err)


# --- 6: FIFOs -------------------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_with_no_writer_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.aec"
    os.mkfifo(fifo)
    for args, code in ((["info", fifo], 3), (["decode", fifo, tmp_path / "o.wav"], 3),
                       (["encode", fifo, tmp_path / "o.aec"], 3)):
        r = cli(*args, timeout=60)
        assert r.returncode == code, r.stderr
        line = one_line(r.stderr)
        assert "not a regular file" in line or "no writer" in line, line


# --- 7: full disk, read-only folder ---------------------------------------------------------

@pytest.fixture
def full_disk(tmp_path: Path) -> Path:
    mnt = tmp_path / "full"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                       check=False, capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", str(mnt)], check=False)


def test_decode_onto_a_full_disk_is_one_line(full_disk: Path) -> None:
    r = cli("decode", GOLDEN, full_disk / "x.wav")
    assert r.returncode == 5
    assert "No space left on device" in one_line(r.stderr)
    assert list(full_disk.iterdir()) == []


def test_encode_onto_a_full_disk_is_one_line(full_disk: Path, tmp_path: Path) -> None:
    wav = tmp_path / "in.wav"
    sf.write(wav, synth_music(60.0, 22050), 22050)
    r = cli("encode", wav, full_disk / "x.aec", "-b", "64")
    assert r.returncode == 5, r.stderr
    one_line(r.stderr)
    assert list(full_disk.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    code, _, err = run("decode", GOLDEN, ro / "x.wav")
    assert code == 5 and "not writable" in one_line(err)


def test_read_only_folder_as_seen_by_the_checks(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The same check under root (which os.access would let through): simulated."""
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m, **k: False if m == os.W_OK else real(p, m))
    code, _, err = run("decode", GOLDEN, tmp_path / "x.wav")
    assert code == 5 and "not writable" in one_line(err)


# --- 8: RF64 --------------------------------------------------------------------------------

def test_wav_over_4_gib_is_rf64(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from aecodec.files import wavout
    assert wavout.wav_container(2**30, 2, "PCM_16") == "RF64"
    assert wavout.wav_container(2**29, 2, "PCM_16") == "WAV"
    assert wavout.wav_container(2**31, 2, "PCM_16", fmt="FLAC") == "FLAC"
    monkeypatch.setattr(wavout, "RIFF_LIMIT", 10_000)  # a small file takes the big-file path
    from aecodec.files.ops import decode_file
    out = tmp_path / "o.wav"
    decode_file(GOLDEN, out, iters=0)
    assert out.read_bytes()[:4] == b"RF64"
    info = sf.info(out)
    assert info.format == "RF64" and info.frames == aecmut.parse(GOLDEN.read_bytes()).meta["length"]


# --- 9: determinism -------------------------------------------------------------------------

def test_decoded_bytes_do_not_depend_on_threads(tmp_path: Path) -> None:
    """BLAS threads and the decoder's split work (dsp.workers) on 1 and 2 threads give the
    same WAV bytes."""
    outs = []
    for threads in (1, 2):
        out = tmp_path / f"t{threads}.wav"
        code = ("import sys, torch; torch.set_num_threads(int(sys.argv[3])); "
                "from aecodec.files.ops import decode_file; "
                "decode_file(sys.argv[1], sys.argv[2], threads=int(sys.argv[3]))")
        env = {**ENV, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
               "OPENBLAS_NUM_THREADS": str(threads)}
        subprocess.run([sys.executable, "-c", code, str(STEREO_ANS), str(out), str(threads)],
                       check=True, cwd=REPO, env=env, timeout=300)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


# --- 11: exit codes -------------------------------------------------------------------------

def test_exit_codes_match_the_readme(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wav, keep = tmp_path / "a.wav", tmp_path / "keep.wav"
    sf.write(wav, synth_music(1.0, 22050), 22050)
    sf.write(keep, synth_music(1.0, 22050), 22050)
    before = keep.read_bytes()
    code, _, err = run("encode", wav, keep)  # two audio files: several inputs, not an output
    assert code == 2 and "-o/--output-dir" in err and keep.read_bytes() == before, err
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, m, **k: False if m == os.R_OK else real(p, m))
    code, _, err = run("encode", wav, tmp_path / "o.aec")
    assert code == 3 and "permission denied" in one_line(err)


def test_classify_batch_of_mixed_failures_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.aec"
    bad.write_bytes(forge(GOLDEN.read_bytes(), rate=1))
    code, _, err = run("classify", tmp_path / "missing.wav", bad)
    assert code == 1, err


# --- 12: info -------------------------------------------------------------------------------

def test_info_applies_decodes_checks(tmp_path: Path) -> None:
    data = GOLDEN.read_bytes()
    meta = aecmut.parse(data).meta
    long = tmp_path / "long.aec"  # 6.5 s claiming 24 h, frames and latent forged to match
    rate = meta["rate"]
    length = 24 * 3600 * rate
    frames = math.ceil(length * meta["model_rate"] / rate) // meta["hop"] + 1
    long.write_bytes(forge(data, length=length, frames=frames, latent=[64, -(-frames // 4)]))
    code, _, err = run("info", long)
    assert code == 4 and "chunks" in one_line(err)
    p = aecmut.parse(data)
    streams = p.chunks[1]
    assert isinstance(streams, list)
    kind, step, b = streams[0]
    streams[0] = (kind, step, b[:-3] + bytes(3))  # a valid CRC over damaged symbols
    damaged = tmp_path / "damaged.aec"
    damaged.write_bytes(aecmut.build(p))
    assert run("info", damaged)[0] == 0
    code, _, err = run("info", damaged, "--verify")
    assert code == 4 and "chunk 2 of 2" in one_line(err)
    code, out, err = run("info", GOLDEN, damaged, GOLDEN, "--verify")
    assert code == 4 and out.count("verified") == 2


# --- 13: stdout -----------------------------------------------------------------------------

@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
@pytest.mark.parametrize("args", [["info", GOLDEN], ["info", GOLDEN, "--json"], ["--help"]])
def test_a_failing_stdout_is_one_line(args: list[object]) -> None:
    with open("/dev/full", "w") as full:
        r = cli(*args, stdout=full)
    assert r.returncode == 5
    assert "standard output" in one_line(r.stderr)


def test_a_closed_stdout_pipe_is_one_line() -> None:
    p = subprocess.Popen([sys.executable, "-m", "aecodec", "info", str(GOLDEN)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                         env=ENV)
    assert p.stdout is not None
    p.stdout.close()
    _, err = p.communicate(timeout=60)
    assert p.returncode == 5 and "Broken pipe" in one_line(err)


# --- 14: classify streams -------------------------------------------------------------------

def test_classify_reads_an_aec_chunk_by_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    from aecodec.codec.decode import decode_latent, read_file
    from aecodec.format import container
    from aecodec.genre.head import file_latent
    want, steps = decode_latent(read_file(GOLDEN))
    meta = aecmut.parse(GOLDEN.read_bytes()).meta

    def whole(*a: object, **k: object) -> None:
        raise AssertionError("read the whole file")
    monkeypatch.setattr(container, "read_aec", whole)
    latent, step, _ = file_latent(GOLDEN, meta["model"])
    assert np.array_equal(np.asarray(latent), want) and np.array_equal(np.asarray(step), steps)


def test_segment_probs_in_batches_match_one_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    from aecodec.genre import head as genre
    h, _ = genre.load_classifier(Path(__file__).parent / "data" / "aecodec-genres-655c45ce3c3e.npz")
    z = np.random.default_rng(0).standard_normal((h.cfg.channels, 2000)).astype(np.float32)
    one = np.asarray(genre.segment_probs(h, z, name="x"))
    monkeypatch.setattr(genre, "SEGMENT_BATCH", 7)
    assert np.allclose(np.asarray(genre.segment_probs(h, z, name="x")), one, atol=1e-6)


# --- 15: names and noise --------------------------------------------------------------------

def test_forged_model_id_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "forged.aec"
    bad.write_bytes(forge(GOLDEN.read_bytes(), model={"id": "nosuch-model", "sha256": "0" * 16}))
    code, _, err = run("decode", bad, tmp_path / "o.wav")
    assert code == 6 and one_line(err).startswith(f"aecodec: error: {bad}:")


def test_junk_probed_as_mp3_is_quiet_and_truthful(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"\xff\xfb\x90\x00" + np.random.default_rng(0).bytes(4000))
    r = cli("encode", junk, tmp_path / "o.aec")
    line = one_line(r.stderr)
    assert r.returncode == 3 and "does not exist" not in line and "Note:" not in r.stderr


def test_guarded_file_keeps_callback_errors() -> None:
    from aecodec.files.wavout import GuardedFile

    class Full(io.BytesIO):
        def write(self, b: bytes) -> int:  # type: ignore[override]
            raise OSError(28, "No space left on device")
    g = GuardedFile(Full())
    assert g.write(b"abc") == 0
    with pytest.raises(OutputError, match="No space left"):
        g.check("x.wav")
