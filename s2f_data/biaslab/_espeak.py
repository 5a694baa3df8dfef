"""A minimal ctypes binding of libespeak-ng (Debian package ``libespeak-ng1``).

The library is loaded lazily, once per process, in synchronous mode: :func:`espeak_synth`
returns the whole waveform. Driving the library directly (instead of the ``espeak-ng``
program) avoids one process start per utterance and gives access to the pitch-range
parameter, which the command line does not expose. Measured here: about 10 ms for a 2.4 s
English sentence.

libespeak-ng keeps synthesizer state from one call to the next (measured here: the same
sentence synthesized twice in one process differs after about 70 ms, by a few samples in
length), and neither ``espeak_Initialize`` nor a voice change resets it. So
:func:`espeak_synth` runs, by default, in a forked child that initialises the library afresh
and sends the samples back through a pipe: output depends only on the arguments. The
population generator instead forks once per speaker (:func:`run_isolated`) and synthesizes
that speaker's utterances in order inside the child, which is as deterministic and cheaper.
The library is not thread-safe; the fork also keeps it out of the caller's threads.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import pickle
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from s2f_data.exceptions import EspeakError, IsolatedCallError

__all__ = [
    "ESPEAK_SAMPLE_RATE",
    "espeak_phonemes",
    "espeak_synth",
    "run_isolated",
]

#: Output sample rate of espeak-ng's voices.
ESPEAK_SAMPLE_RATE = 22050

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_CHARS_UTF8 = 1
_PHONEMES = 0x100
_POS_CHARACTER = 1
_RATE, _VOLUME, _PITCH, _RANGE = 1, 2, 3, 4
_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _Engine:
    def __init__(self) -> None:
        name = ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1"
        try:
            lib = ctypes.CDLL(name)
        except OSError as err:
            raise EspeakError(
                f"cannot load libespeak-ng ({name}): install the Debian package 'espeak-ng' "
                "(apt-get install espeak-ng)"
            ) from err
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INITIALIZE_DONT_EXIT)
        if rate != ESPEAK_SAMPLE_RATE:
            raise EspeakError(
                f"libespeak-ng initialised at {rate} Hz, expected {ESPEAK_SAMPLE_RATE} Hz"
            )
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [
            ctypes.POINTER(ctypes.c_void_p),
            ctypes.c_int,
            ctypes.c_int,
        ]
        self._chunks: list[np.ndarray] = []
        self._callback = _CALLBACK(self._collect)  # keep a reference: C holds the pointer
        lib.espeak_SetSynthCallback(self._callback)
        self.lib = lib
        self._voice: str | None = None

    def _collect(self, wav: Any, n: int, events: Any) -> int:
        if n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    def set_voice(self, voice: str) -> None:
        if voice == self._voice:
            return
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise EspeakError(f"espeak-ng has no voice {voice!r}")
        self._voice = voice

    def synth(self, text: str, voice: str, rate: int, pitch: int, pitch_range: int) -> np.ndarray:
        self.set_voice(voice)
        for param, value in ((_RATE, rate), (_PITCH, pitch), (_RANGE, pitch_range), (_VOLUME, 100)):
            self.lib.espeak_SetParameter(param, int(value), 0)
        data = text.encode("utf-8") + b"\0"
        self._chunks = []
        status = self.lib.espeak_Synth(
            data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8 | _PHONEMES, None, None
        )
        if status != 0:
            raise EspeakError(f"espeak-ng failed (status {status}) on {text[:60]!r} ({voice})")
        if not self._chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self._chunks)

    def phonemes(self, text: str, voice: str) -> str:
        self.set_voice(voice)
        buf = ctypes.c_char_p(text.encode("utf-8"))
        ptr = ctypes.cast(ctypes.pointer(buf), ctypes.POINTER(ctypes.c_void_p))
        clauses = []
        while ptr.contents.value:
            out = self.lib.espeak_TextToPhonemes(ptr, _CHARS_UTF8, 0)
            if out:
                clauses.append(out.decode("utf-8"))
        return " _ ".join(clauses)


@functools.cache
def _engine() -> _Engine:
    return _Engine()


def espeak_synth(
    text: str,
    voice: str,
    *,
    rate: int = 175,
    pitch: int = 50,
    pitch_range: int = 50,
    isolated: bool = True,
) -> np.ndarray:
    """Synthesize ``text`` with libespeak-ng in a fresh forked process (deterministic).

    Parameters
    ----------
    text : str
        UTF-8 text; phoneme mnemonics inside ``[[ ]]`` are read as phonemes.
    voice : str
        espeak voice name, optionally with a variant (``"en-us+m3"``).
    rate : int
        Speaking rate in words per minute (80-450).
    pitch, pitch_range : int
        espeak pitch and pitch-range parameters (0-99).
    isolated : bool
        Synthesize in a forked child with fresh synthesizer state (output depends only on the
        arguments; about 10-30 ms extra). ``False`` synthesizes in this process: faster, but
        the output then depends on what this process synthesized before, and so does the
        state that later forked children (the population generator's) start from; do not
        mix it with generation in one process when byte-identical output matters.

    Returns
    -------
    numpy.ndarray
        Shape ``(samples,)``, int16 at :data:`ESPEAK_SAMPLE_RATE`.
    """
    if not isolated:
        return _engine().synth(text, voice, rate, pitch, pitch_range)
    return run_isolated(_synth_in_engine, text, voice, rate, pitch, pitch_range)


def _synth_in_engine(text: str, voice: str, rate: int, pitch: int, pitch_range: int) -> np.ndarray:
    return _engine().synth(text, voice, rate, pitch, pitch_range)


def run_isolated(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn(*args)`` in a forked child and return its result (pickled through a pipe).

    The child starts from the caller's memory but its changes (libespeak-ng's synthesizer
    state included) die with it, so repeated calls do not influence each other. An exception
    in the child is raised here as :class:`IsolatedCallError` with the child's message and
    traceback.

    Parameters
    ----------
    fn : callable
        Module-level function; its result must be picklable.
    *args
        Arguments.

    Returns
    -------
    object
        ``fn(*args)``.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        status = 0
        try:
            os.close(read_fd)
            payload = b"R" + pickle.dumps(fn(*args), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as err:  # report any failure to the parent
            tb = traceback.format_exc(limit=4)
            payload = b"E" + f"{type(err).__name__}: {err}\n{tb}".encode("utf-8", "replace")
            status = 1
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(write_fd, view) :]
        finally:
            os._exit(status)
    os.close(write_fd)
    chunks = []
    with os.fdopen(read_fd, "rb") as fh:
        while chunk := fh.read(1 << 16):
            chunks.append(chunk)
    os.waitpid(pid, 0)
    payload = b"".join(chunks)
    if not payload.startswith(b"R"):
        detail = payload[1:].decode("utf-8", "replace") or "child process died without output"
        raise IsolatedCallError(
            f"isolated call {getattr(fn, '__name__', fn)} failed in a child process: {detail}"
        )
    return pickle.loads(payload[1:])  # our own child's output, never external data


def espeak_phonemes(text: str, voice: str) -> str:
    """Return espeak's ASCII phoneme mnemonics of ``text`` (clauses joined by ``" _ "``).

    Parameters
    ----------
    text : str
        UTF-8 text.
    voice : str
        espeak voice whose pronunciation rules are used.

    Returns
    -------
    str
        Mnemonics such as ``"h@l'oU w'3:ld"``; words separated by spaces.
    """
    return _engine().phonemes(text, voice)
