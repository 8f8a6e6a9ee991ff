"""``--scheduler``: batches on a Dask cluster (a ``LocalCluster`` of 2 worker processes) with
the rules, lines, summary and exit codes of ``-j``; the one-line errors without the extra."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf

from .conftest import synth_music
from .test_cli import leftovers, run


def test_scheduler_without_the_extra_is_exit_7(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    wav = tmp_path / "a.wav"
    sf.write(wav, synth_music(0.5, 8000), 8000)
    for cmd in ("encode", "decode"):
        code, _, err = run(cmd, tmp_path, "-o", tmp_path / "out", "--scheduler", "tcp://h:8786")
        assert code == 7, err
        assert err.strip().splitlines() == [(
            "aecodec: error: --scheduler needs dask.distributed, which is not installed: "
            "pip install 'aecodec[dask]' (see README, A music library on a Dask cluster)")]
    assert not (tmp_path / "out").exists()  # refused before any work


def test_bad_scheduler_addresses_are_one_line(tmp_path: Path) -> None:
    pytest.importorskip("distributed", reason="the [dask] extra is not installed")
    sf.write(tmp_path / "a.wav", synth_music(0.5, 8000), 8000)
    code, _, err = run("encode", tmp_path, "-o", tmp_path / "o", "--scheduler", "nohost")
    assert code == 2 and err.count("\n") == 1 and "missing port number" in err, err
    code, _, err = run("encode", tmp_path, "-o", tmp_path / "o", "--scheduler", "127.0.0.1:1")
    assert code == 1 and err.count("\n") == 1 and "no Dask scheduler answers there" in err, err
    code, _, err = run("encode", tmp_path, "-o", tmp_path / "o", "--scheduler", "127.0.0.1:1",
                       "-j", "2")
    assert code == 2 and "-j and --scheduler" in err
    code, _, err = run("encode", "-", "-", "--scheduler", "127.0.0.1:1")
    assert code == 2 and "pipes stay on this machine" in err


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """The address of a 2-worker ``LocalCluster`` (one thread each, separate processes)."""
    distributed = pytest.importorskip("distributed", reason="the [dask] extra is not installed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as c:
        yield c.scheduler_address


def _per_worker(address: str) -> tuple[dict[str, int], dict[str, int]]:
    """Per worker process: weights files loaded (the registry's cache misses) and the threads
    the decoder's split work runs on."""
    from distributed import Client

    from aecodec.dsp import workers
    from aecodec.model import registry
    with Client(address, set_as_default=False) as client:
        info = client.run(registry._load_cached.cache_info)
        threads = client.run(workers.count)
    return {w: i.misses for w, i in info.items()}, threads


def test_batch_on_a_cluster(tmp_path: Path, tiny_model: Path, cluster: str) -> None:
    src = tmp_path / "music"
    (src / "sub").mkdir(parents=True)
    for i in range(3):
        sf.write(src / f"t{i}.wav", synth_music(1.0, 22050, seed=i), 22050)
    sf.write(src / "sub" / "s.flac", synth_music(1.5, 16000, seed=7), 16000)
    out, model = tmp_path / "out", ("--model", tiny_model)
    code, _, err = run("encode", src, "-o", out, *model, "-b", "3", "--scheduler", cluster)
    assert code == 0, err
    lines = err.splitlines()
    assert sum(ln.startswith("[") and " ok " in ln and "kbps" in ln for ln in lines) == 4
    assert f"ok {src / 'sub' / 's.flac'} -> {out / 'sub' / 's.aec'}: " in err  # names as given
    assert "encoded 4 of 4 files (0 skipped, 0 failed): 4.5 s of audio" in lines[-1]
    assert sorted(p.name for p in out.rglob("*.aec")) == ["s.aec", "t0.aec", "t1.aec", "t2.aec"]
    loads, threads = _per_worker(cluster)
    assert len(loads) == 2 and max(loads.values()) == 1, loads  # once per worker, 4 files
    assert set(threads.values()) == {1}, threads  # --threads 0 (auto): one thread a task

    code, _, err = run("encode", src, "-o", out, *model, "--scheduler", cluster)
    assert code == 5 and "encoded 0 of 4 files (0 skipped, 4 failed)" in err  # no -f, no -n
    assert err.count("already exists (use -f/--force to overwrite)") == 4
    code, _, err = run("encode", src, "-o", out, *model, "-n", "--scheduler", cluster)
    assert code == 0 and "encoded 0 of 4 files (4 skipped, 0 failed)" in err, err
    before = (out / "t0.aec").stat().st_mtime_ns
    code, _, err = run("encode", src / "t0.wav", out / "t0.aec", *model, "-b", "6", "-f", "-q",
                       "--scheduler", cluster)
    assert code == 0 and err == "" and (out / "t0.aec").stat().st_mtime_ns != before

    wav = tmp_path / "wav"
    code, _, err = run("decode", out, "-o", wav, *model, "--iters", "1", "--scheduler", cluster)
    assert code == 0, err
    assert "decoded 4 of 4 files (0 skipped, 0 failed)" in err
    assert sf.info(wav / "sub" / "s.wav").samplerate == 16000
    assert sf.info(wav / "sub" / "s.wav").frames == 24000
    assert sf.info(wav / "t1.wav").frames == 22050
    assert leftovers(out) == [] and leftovers(wav) == [] and leftovers(wav / "sub") == []


def test_bad_file_on_a_cluster(tmp_path: Path, tiny_model: Path, cluster: str) -> None:
    src = tmp_path / "music"
    src.mkdir()
    sf.write(src / "good.wav", synth_music(1.0, 22050), 22050)
    (src / "broken.wav").write_bytes(b"RIFF garbage")
    out = tmp_path / "out"
    code, _, err = run("encode", src, "-o", out, "--model", tiny_model, "-b", "3",
                       "--scheduler", cluster)
    assert code == 3, err  # the input's own exit code, as with -j
    assert f"FAILED {src / 'broken.wav'}: " in err
    assert "encoded 1 of 2 files (0 skipped, 1 failed)" in err
    assert err.splitlines()[-1] == "aecodec: error: 1 of 2 files failed"
    assert (out / "good.aec").exists() and not (out / "broken.aec").exists()
    assert leftovers(out) == []
    (out / "bad.aec").write_bytes(b"AEC\x00 not really")
    code, _, err = run("decode", out, "-o", tmp_path / "wav", "--model", tiny_model,
                       "--iters", "1", "--scheduler", cluster)
    assert code == 4 and "decoded 1 of 2 files (0 skipped, 1 failed)" in err, err
    assert (tmp_path / "wav" / "good.wav").exists() and not (tmp_path / "wav" / "bad.wav").exists()


def test_dask_map_with_a_client_of_the_callers(tmp_path: Path, tiny_model: Path,
                                               cluster: str) -> None:
    from distributed import Client

    from aecodec.files.cluster import dask_map
    from aecodec.files.ops import encode_file
    wav = tmp_path / "a.wav"
    sf.write(wav, synth_music(1.0, 22050), 22050)
    jobs = [(wav, tmp_path / "a.aec"), (tmp_path / "missing.wav", tmp_path / "m.aec")]
    with Client(cluster, set_as_default=False) as client:
        outcomes = dask_map(encode_file, jobs, scheduler=client, kbps=3, model_path=tiny_model)
        assert client.status == "running"  # the caller's client stays open
    by_src = {o.src: o for o in outcomes}
    assert set(by_src) == {wav, tmp_path / "missing.wav"}
    ok, bad = by_src[wav], by_src[tmp_path / "missing.wav"]
    assert ok.error == "" and ok.result is not None
    assert ok.result["bytes"] == (tmp_path / "a.aec").stat().st_size
    assert bad.result is None and bad.code == 3 and "missing.wav" in bad.error
