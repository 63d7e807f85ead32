"""``emg stream`` and ``emg emulate``."""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections import deque

from ._common import add_command

BOARDS = ("cyton", "cyton-daisy", "myoware")


def register(subparsers) -> None:
    p = add_command(subparsers, "stream", "live ingestion with on-line detection", run_stream)
    p.add_argument("--board", required=True, choices=BOARDS)
    p.add_argument("--port", required=True, metavar="PORT|auto")
    p.add_argument("--seconds", type=float, default=None)
    p.add_argument("--record", default=None, metavar="FILE.bdf")
    p.add_argument("--lsl", action="store_true", help="publish an LSL stream (needs the 'lsl' extra)")

    p = add_command(subparsers, "emulate", "a virtual sensor on a pseudo-terminal", run_emulate)
    p.add_argument("--board", required=True, choices=BOARDS)
    p.add_argument("--link", default=None, metavar="PATH", help="symlink to the pseudo-terminal")
    p.add_argument("--seconds", type=float, default=None)
    p.add_argument("--drop-every", type=int, default=0, metavar="N")
    p.add_argument("--garbage-every", type=int, default=0, metavar="N")


def _on_signals(callback) -> dict:
    """Route SIGINT and SIGTERM to ``callback`` (a clean stop); returns the old handlers."""
    old = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            old[sig] = signal.signal(sig, lambda *_: callback())
        except ValueError:  # not the main thread
            pass
    return old


def _restore(old: dict) -> None:
    for sig, handler in old.items():
        signal.signal(sig, handler)


# -- emg emulate ----------------------------------------------------------------------------------
def run_emulate(args) -> int:
    from ..devices.emulator import Emulator
    from ..errors import InputError

    for name in ("drop_every", "garbage_every"):
        if getattr(args, name) < 0:
            raise InputError(f"--{name.replace('_', '-')}", f"must be >= 0 packets, got {getattr(args, name)}")
    emu = Emulator(args.board, link=args.link, seconds=args.seconds,
                   drop_every=args.drop_every, garbage_every=args.garbage_every)
    print(f"emg emulate: {args.board} on {emu.port} "
          f"({emu.device.fs:g} Hz x {emu.device.n_channels} ch, {emu.device.baudrate} baud); Ctrl-C stops",
          flush=True)
    old = _on_signals(emu.stop)
    tty = sys.stdout.isatty()

    def status(e: Emulator) -> None:
        if tty:
            s = e.stats
            print(f"\r  sent {s.packets_sent} packets, dropped {s.packets_dropped}, "
                  f"garbage {s.garbage_bytes} B, streaming: {'yes' if e.device.streaming else 'no'}   ",
                  end="", flush=True)

    try:
        emu.run_forever(on_tick=status, interval_s=0.5)
    finally:
        _restore(old)
    s = emu.stats
    print(("\n" if tty else "") + f"emg emulate: stopped; sent {s.packets_sent} packets, "
          f"dropped {s.packets_dropped}, garbage {s.garbage_bytes} bytes", flush=True)
    return 0


# -- emg stream ------------------------------------------------------------------------------------
class _LiveView:
    """Per-channel noise, events in the last minute and rate so far; loss; recording size."""

    def __init__(self, source, detector, record_path: str | None):
        self.source = source
        self.detector = detector
        self.record_path = record_path
        self.tty = sys.stdout.isatty()
        self.n_ch = source.n_channels
        self.noise_uv = [float("nan")] * self.n_ch
        self.counts = [0] * self.n_ch
        self.recent: deque[tuple[float, int]] = deque()  # (time s, channel) of recent events
        self.valid_s = 0.0
        self._tail: deque = deque()
        self._lock = threading.Lock()
        self._tail_n = 0
        self._lines = 0
        self._last = 0.0
        self._started = time.monotonic()

    def add_events(self, chunk, events) -> None:
        """Called by the detection thread with each chunk's events."""
        if events is None or not len(events):
            return
        with self._lock:
            for sample, ch in zip(events.sample.tolist(), events.channel.tolist()):
                self.counts[ch] += 1
                self.recent.append((sample / chunk.fs, ch))

    def update(self, chunk) -> None:
        import numpy as np

        fs = chunk.fs
        self.valid_s += float(np.count_nonzero(chunk.valid)) / fs
        now_s = (chunk.first_sample + chunk.n_samples) / fs
        with self._lock:
            while self.recent and self.recent[0][0] < now_s - 60.0:
                self.recent.popleft()
        self._tail.append((chunk.data, chunk.valid))
        self._tail_n += chunk.n_samples
        while self._tail_n - self._tail[0][0].shape[1] >= fs:  # keep about the last second
            self._tail_n -= self._tail.popleft()[0].shape[1]

    def _noise(self) -> list[float]:
        """Per-channel noise, µV: the detector's, else a robust RMS of the last second's first difference."""
        import numpy as np

        noise = getattr(self.detector, "noise_uv", None) if self.detector is not None else None
        if noise is not None and np.isfinite(np.asarray(noise, dtype=float)).any():
            return [float(v) for v in np.asarray(noise).ravel()[: self.n_ch]]
        if not self._tail:
            return self.noise_uv
        data = np.concatenate([d for d, _ in self._tail], axis=1)
        valid = np.concatenate([v for _, v in self._tail])
        both = valid[1:] & valid[:-1]
        if both.sum() < 8:
            return self.noise_uv
        d = np.diff(data, axis=1)[:, both]  # first difference: DC and drift removed
        mad = np.median(np.abs(d - np.median(d, axis=1, keepdims=True)), axis=1)
        self.noise_uv = (1.4826 * mad / np.sqrt(2)).tolist()
        return self.noise_uv

    def _text(self) -> list[str]:
        st = self.source.stats
        fs = self.source.fs
        elapsed = st.samples / fs
        lines = [
            f"{self.source.spec.name} on {self.source.port}  {elapsed:8.1f} s  "
            f"{'connected' if st.connected else 'RECONNECTING'}  "
            f"lost {st.packets_lost} packets ({100 * st.loss_fraction:.2f} %), gaps {len(st.gaps)}, "
            f"reconnects {st.reconnects}, discarded {st.bytes_discarded} B"
        ]
        if self.record_path:
            import os

            size = os.path.getsize(self.record_path) if os.path.exists(self.record_path) else 0
            lines.append(f"recording {self.record_path}: {size / 1e6:.2f} MB, {elapsed / 60:.1f} min")
        noise_uv = self._noise()
        recent = [0] * self.n_ch
        with self._lock:
            for _, ch in self.recent:
                recent[ch] += 1
        hours = self.valid_s / 3600.0
        if self.tty:
            lines.append(f"{'channel':>10} {'noise µV':>9} {'last min':>9} {'rate /h':>9}")
            for ch, name in enumerate(self.source.channel_names):
                rate = self.counts[ch] / hours if hours > 0 else float("nan")
                det = ""
                if self.detector is None or self.detector.failed:
                    det = "   (no on-line detection)"
                elif self.detector.detector is None:
                    det = "   (detector starting)"
                lines.append(f"{name:>10} {noise_uv[ch]:9.1f} {recent[ch]:9d} {rate:9.0f}{det}")
        else:
            noise = " ".join(f"{v:.1f}" for v in noise_uv)
            lines.append(f"noise_uv [{noise}] events_last_min {sum(recent)} events_total {sum(self.counts)}")
        return lines

    def show(self, force: bool = False) -> None:
        now = time.monotonic()
        every = 0.5 if self.tty else 10.0
        if not force and now - self._last < every:
            return
        self._last = now
        lines = self._text()
        if self.tty:
            up = f"\x1b[{self._lines}F" if self._lines else ""
            sys.stdout.write(up + "".join(f"\x1b[2K{line}\n" for line in lines))
            self._lines = len(lines)
        else:
            sys.stdout.write(" | ".join(lines) + "\n")
        sys.stdout.flush()


class _DetectionWorker:
    """On-line detection on its own thread, so recording never waits for it (or its JIT warm-up).

    Chunks are queued in order; events go to ``on_events(chunk, events)``. Without
    ``emg.detect`` (or when it fails) streaming goes on and the view says so.
    """

    batch_s = 0.25

    def __init__(self, fs: float, n_channels: int, on_events):
        import queue
        import threading

        self.fs, self.n_channels, self.on_events = fs, n_channels, on_events
        self.detector = None
        self.failed: str | None = None
        self._q: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="emg-detect", daemon=True)
        self._thread.start()

    def submit(self, chunk) -> None:
        self._q.put(chunk)

    def stop(self, timeout_s: float = 1.0) -> None:
        self._q.put(None)
        self._thread.join(timeout_s)

    @property
    def noise_uv(self):
        return getattr(self.detector, "noise_uv", None) if self.detector is not None else None

    def _run(self) -> None:
        try:
            from ..detect import Detector

            self.detector = Detector(self.fs, self.n_channels, mains="auto")
        except Exception as exc:  # noqa: BLE001 - streaming must work without detection
            self.failed = f"{type(exc).__name__}: {exc}"
            print(f"emg stream: warning: on-line detection off: {self.failed}", file=sys.stderr)
            return
        import numpy as np

        from ..types import Chunk

        pending = []
        while True:
            item = self._q.get()
            if item is not None:
                pending.append(item)
                if sum(c.n_samples for c in pending) < self.batch_s * self.fs:
                    continue  # detection in blocks of batch_s: far fewer calls
            if not pending:
                return
            chunk = pending[0] if len(pending) == 1 else Chunk(
                np.concatenate([c.data for c in pending], axis=1), first_sample=pending[0].first_sample,
                fs=self.fs, valid=np.concatenate([c.valid for c in pending]))
            pending = []
            try:
                self.on_events(chunk, self.detector.process(chunk))
            except Exception as exc:  # noqa: BLE001 - keep recording if detection fails
                self.failed = f"{type(exc).__name__}: {exc}"
                print(f"emg stream: warning: on-line detection stopped: {self.failed}", file=sys.stderr)
                self.detector = None
                return
            if item is None:
                return


def _lsl_outlet(source):
    from ..errors import InputError

    try:
        import pylsl
    except ImportError:
        raise InputError("--lsl", "needs pylsl: pip install 'emg[lsl]'") from None
    info = pylsl.StreamInfo(f"emg-{source.spec.name}", "EMG", source.n_channels, source.fs,
                            "float32", f"emg-{source.spec.name}-{source.port}")
    channels = info.desc().append_child("channels")
    for name in source.channel_names:
        ch = channels.append_child("channel")
        ch.append_child_value("label", name)
        ch.append_child_value("unit", "microvolts")
        ch.append_child_value("type", "EMG")
    return pylsl.StreamOutlet(info)


def _check_record_path(path: str) -> None:
    """Fail before touching the device when the recording cannot be written."""
    import os

    from ..errors import InputError

    if not path.lower().endswith(".bdf"):
        raise InputError(path, "--record writes BDF+: give a file name ending in .bdf")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError(path, f"cannot record here: no such directory {folder}")
    if not os.access(folder, os.W_OK):
        raise InputError(path, f"cannot record here: no permission to write in {folder}")


def run_stream(args) -> int:
    from ..devices.serial import latency_hint
    from ..devices.stream import LiveSource
    from ..errors import InputError

    if args.seconds is not None and not args.seconds > 0:
        raise InputError("--seconds", f"must be > 0, got {args.seconds:g}")
    if args.record:
        _check_record_path(args.record)
    source = LiveSource(args.board, args.port, seconds=args.seconds)
    hint = latency_hint(source.port)
    if hint:
        print(f"emg stream: hint: {hint}", file=sys.stderr)
    outlet = _lsl_outlet(source) if args.lsl else None
    old = _on_signals(source.stop)
    recorder = None
    worker = None
    try:
        source.open()
        view = _LiveView(source, None, args.record)
        worker = view.detector = _DetectionWorker(source.fs, source.n_channels, view.add_events)
        for chunk in source:
            if recorder is None and args.record:
                from ..io.recorder import BdfRecorder

                recorder = BdfRecorder(args.record, fs=source.fs, channel_names=source.channel_names,
                                       start=source.start, sidecar={"board": args.board, "port": source.port})
            if recorder is not None:
                recorder.write(chunk.data)
                for start_s, duration_s in source.new_gaps:
                    recorder.add_gap(start_s, duration_s)
                recorder.update_sidecar(packets_lost=source.stats.packets_lost,
                                        reconnects=source.stats.reconnects)
            if outlet is not None:
                outlet.push_chunk(chunk.data.T.copy())
            worker.submit(chunk)
            view.update(chunk)
            view.show()
    finally:
        _restore(old)
        source.close()
        if recorder is not None:
            recorder.update_sidecar(packets_lost=source.stats.packets_lost, reconnects=source.stats.reconnects)
            recorder.close()
        if worker is not None:
            worker.stop()
    view.show(force=True)
    st = source.stats
    print(f"emg stream: {st.samples / source.fs:.1f} s, {st.packets_lost} packets lost, "
          f"{len(st.gaps)} gaps, {st.reconnects} reconnects"
          + (f"; recorded {args.record}" if args.record else ""), flush=True)
    return 0
