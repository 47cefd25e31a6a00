"""Group calls through Janus beside peer-to-peer ones, in the same run (root: namespaces).

    sudo .venv/bin/python tests/perf/bench_group.py [--seconds 15] [--height 240]
        [--parts bots,app,join]

Every participant is a ``parley-bot`` process (its own interpreter, as on its own
computer) sending a ``--height`` test pattern at 15 fps and a tone; CPU is read from
``/proc/<pid>/stat`` over ``--seconds`` once everyone receives everyone.

* **1:1 peer to peer** — the baseline: what a client costs in a call of two today.
* **4 people, mesh vs SFU** — per-client CPU (median of the four) each way, and the ratio.
* **join → first remote frame** through the SFU (a third person joining a call of two
  goes straight to the room) beside a raw aiortc publisher → Janus → subscriber path,
  measured inside this process.
* **Janus** — its CPU per forwarded stream in the 4-person SFU call.
* **The app, 1:1 vs 8 people** — the goal of group calls: Parley's own window
  (``tests.net.app_person``, offscreen, painting every tile) in a 1:1 call with a bot,
  then in an eight-person call through the SFU with seven light publishers
  (``tests/perf/crowd.py``: real participants sending pre-encoded camera-sized video and
  sound) — everyone talking, their cameras only; then with each camera's grid layer
  beside it (the app's small tiles take it, as they do from real participants); then
  a meeting as meetings are (one talking, six muted; six silent); then that meeting as
  the others' grids show the app — small: they say they take its grid layer only, and its
  camera's full picture is not encoded (``sdk/layer_demand.py``); beside it, what
  encoding the grid layer costs a sender. Together they say whether publishing the grid
  layer pays, and what pausing the layer nobody takes saves.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from desktop_app.coordinator.auth import create_user_token
from desktop_app.media.grid_layer import GRID_FPS, GRID_HEIGHT, GRID_WIDTH
from tests.net.scene import Lines
from tests.support import janus
from tests.support.processes import stop

TICKS = os.sysconf("SC_CLK_TCK")
SECRET = "bench-group-secret-of-enough-length-for-hs256"
PORT = 3300


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / TICKS


class Setting:
    def __init__(self, lan: janus.MediaLan, janus_url: str | None, height: int) -> None:
        self.lan = lan
        self.height = height
        self.work = Path(tempfile.mkdtemp(prefix="parley-bench-"))
        self.url = f"http://127.0.0.1:{PORT}"
        command = [
            sys.executable, "-m", "desktop_app.coordinator", "serve", "--host", "127.0.0.1",
            "--port", str(PORT), "--secret", SECRET, "--log-level", "warning",
            "--database", f"sqlite:///{self.work / 'bench.sqlite3'}", "--no-rate-limits",
        ]  # fmt: skip
        if janus_url:
            command += ["--janus", janus_url, "--janus-admin-key", janus.ADMIN_KEY]
        env = {**os.environ, "PARLEY_DATA_DIR": str(self.work)}
        self.coordinator = lan.popen(lan.ns, command, env=env)
        lan.wait_listening(lan.ns, "127.0.0.1", PORT)
        self.bots: list[tuple[str, subprocess.Popen[str], Lines]] = []

    def call(self) -> str:
        call_id = f"b{secrets.token_hex(4)}"
        token = create_user_token(SECRET, "host")
        answer = httpx.post(
            f"{self.url}/v1/calls/default/{call_id}",
            json={},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        answer.raise_for_status()
        return call_id

    def bot(self, user: str, call_id: str, *args: str) -> Lines:
        command = [
            sys.executable, "-m", "desktop_app.sdk.bot", "--server", self.url, "--user", user,
            "--join", f"default:{call_id}", "--height", str(self.height), "--fps", "15",
            "--tone", str(300 + 50 * len(self.bots)), *args,
        ]  # fmt: skip
        env = {**os.environ, "PARLEY_BOT_TOKEN": create_user_token(SECRET, user)}
        process = self.lan.popen(
            self.lan.ns, command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        lines = Lines(process)
        self.bots.append((user, process, lines))
        return lines

    def close(self) -> None:
        for _, process, _ in self.bots:
            process.terminate()
        for _, process, _ in self.bots:
            stop(process)
        stop(self.coordinator)


@contextmanager
def setting(lan: janus.MediaLan, janus_url: str | None, height: int) -> Iterator[Setting]:
    current = Setting(lan, janus_url, height)
    try:
        yield current
    finally:
        current.close()


def everyone_sees_everyone(place: Setting, users: list[str], full: list[str]) -> None:
    for user, _, lines in place.bots:
        if user in full:
            for other in users:
                if other != user:
                    lines.wait_for(f"receiving video from {other}", 60)


def cpu_of(place: Setting, seconds: float, extra: list[int] = ()) -> dict[str, float]:  # type: ignore[assignment]
    pids = {user: process.pid for user, process, _ in place.bots}
    pids.update({f"pid{p}": p for p in extra})
    before = {user: cpu_seconds(pid) for user, pid in pids.items()}
    time.sleep(seconds)
    return {user: (cpu_seconds(pid) - before[user]) / seconds for user, pid in pids.items()}


def call_of(lan: janus.MediaLan, url: str | None, n: int, height: int, seconds: float,
            janus_pid: int | None = None) -> dict[str, float]:  # fmt: skip
    with setting(lan, url, height) as place:
        call_id = place.call()
        users = [f"p{i}" for i in range(n)]
        for user in users:
            place.bot(user, call_id)
        everyone_sees_everyone(place, users, users)
        time.sleep(2.0)  # past the switch to the SFU and the first keyframes
        return cpu_of(place, seconds, [janus_pid] if janus_pid else [])


def join_to_first_frame(lan: janus.MediaLan, url: str, height: int, tries: int) -> list[float]:
    """A third person joins a call of two: from its "joined" line to its first picture."""
    times = []
    with setting(lan, url, height) as place:
        for attempt in range(tries):
            call_id = place.call()
            first = place.bot(f"a{attempt}", call_id)
            place.bot(f"b{attempt}", call_id)
            first.wait_for(f"receiving video from b{attempt}", 60)
            third = place.bot(f"c{attempt}", call_id)
            joined = third.wait_for(f"{call_id} joined", 60)
            seen = third.wait_for("receiving video from", 60)
            times.append(
                third.times[third.lines.index(seen)] - third.times[third.lines.index(joined)]
            )
            for _, process, _ in place.bots:
                process.terminate()
            for _, process, _ in place.bots:
                stop(process)
            place.bots.clear()
    return times


async def raw_path(url: str, height: int) -> float:
    """aiortc publisher → Janus → aiortc subscriber: from the subscriber's join request to
    its first decoded frame (a plain room with a token: no private ids)."""
    from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription

    from desktop_app.media.synthetic import SyntheticVideoTrack
    from desktop_app.sdk.janus_link import JanusLink

    def configuration() -> RTCConfiguration:
        return RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)

    room = secrets.token_hex(6)
    admin = await JanusLink.open(url)
    handle = await admin.attach()
    await handle.request({"request": "create", "room": room, "admin_key": janus.ADMIN_KEY,
                          "allowed": ["t"], "publishers": 4})  # fmt: skip
    link = await JanusLink.open(url)
    up = asyncio.Event()
    publisher = await link.attach(
        lambda m, d, j: up.set() if m.get("janus") == "webrtcup" else None
    )
    await publisher.request({"request": "join", "ptype": "publisher", "room": room,
                             "id": "raw", "token": "t"})  # fmt: skip
    pc = RTCPeerConnection(configuration())
    pc.addTrack(SyntheticVideoTrack(height * 4 // 3, height))
    await pc.setLocalDescription(await pc.createOffer())
    answer = await publisher.request(
        {"request": "publish"}, {"type": "offer", "sdp": pc.localDescription.sdp, "trickle": False}
    )
    assert answer.jsep is not None
    await pc.setRemoteDescription(RTCSessionDescription(answer.jsep["sdp"], "answer"))
    await asyncio.wait_for(up.wait(), 10)
    await asyncio.sleep(1.0)
    sub_link = await JanusLink.open(url)
    subscriber = await sub_link.attach()
    spc = RTCPeerConnection(configuration())
    first: asyncio.Future[float] = asyncio.get_running_loop().create_future()
    readers: list[asyncio.Task[None]] = []

    @spc.on("track")
    def _track(track: object) -> None:
        async def read() -> None:
            await track.recv()  # type: ignore[attr-defined]
            if not first.done():
                first.set_result(time.monotonic())

        readers.append(asyncio.ensure_future(read()))

    started = time.monotonic()
    offer = await subscriber.request({"request": "join", "ptype": "subscriber", "room": room,
                                      "streams": [{"feed": "raw"}], "token": "t"})  # fmt: skip
    assert offer.jsep is not None
    await spc.setRemoteDescription(RTCSessionDescription(offer.jsep["sdp"], "offer"))
    await spc.setLocalDescription(await spc.createAnswer())
    await subscriber.request(
        {"request": "start"}, {"type": "answer", "sdp": spc.localDescription.sdp, "trickle": False}
    )
    seen = await asyncio.wait_for(first, 20)
    for reader in readers:
        reader.cancel()
    for peer in (pc, spc):
        await peer.close()
    for one in (sub_link, link, admin):
        await one.close()
    return seen - started


APP_SIZE = (640, 480, 30)  # what the app's test camera sends
GRID_LAYER = (GRID_WIDTH, GRID_HEIGHT, GRID_FPS)  # what a camera's grid layer sends


def app_in_a_call(lan: janus.MediaLan, url: str | None, seconds: float, tiles: int,
                  crowd: tuple[int, int, int] | None, *crowd_args: str) -> tuple[float, float, float]:  # fmt: skip
    """The app's CPU, the others', and the frames/s the app paints, once ``tiles`` pictures
    move in its call: rung by a full ``parley-bot`` (``crowd`` None: 1:1) or by the first
    of seven light publishers of ``crowd`` = (width, height, fps)."""
    with setting(lan, url, 480) as place:
        call_id = f"app{secrets.token_hex(4)}"  # made by whoever rings
        env = {**os.environ, "PARLEY_TEST_TOKEN": create_user_token(SECRET, "app"),
               "QT_QPA_PLATFORM": "offscreen", "PARLEY_CONFIG_DIR": str(place.work / "config"),
               "PARLEY_DATA_DIR": str(place.work / "data"),
               "PARLEY_INSTANCE": f"parley-bench-{os.getpid()}-{call_id}"}  # fmt: skip
        app = lan.popen(lan.ns, [sys.executable, "-m", "tests.net.app_person", "--server",
                                 place.url, "--user", "app", "--shots", str(place.work)],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, env=env)  # fmt: skip
        shown = Lines(app)
        others: subprocess.Popen[str] | None = None
        try:
            shown.wait_for("app is ready", 60)
            if crowd is None:
                command = [sys.executable, "-m", "desktop_app.sdk.bot", "--server", place.url,
                           "--user", "peer", "--ring", "app"]  # fmt: skip
                others = lan.popen(lan.ns, command, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL,
                                   env={**os.environ, "PARLEY_BOT_TOKEN":
                                        create_user_token(SECRET, "peer")})  # fmt: skip
            else:
                width, height, fps = crowd
                command = [sys.executable, str(Path(__file__).with_name("crowd.py")),
                           "--server", place.url, "--secret", SECRET,
                           "--call", f"default:{call_id}", "--people", "7", "--width",
                           str(width), "--height", str(height), "--fps", str(fps),
                           "--ring", "app", *crowd_args]  # fmt: skip
                others = lan.popen(lan.ns, command, stdin=subprocess.PIPE,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            shown.wait_for(lambda line: line.count("picture moving") >= tiles, 120)
            time.sleep(3.0)
            assert others is not None
            painted = frames_painted(app, shown)
            before = cpu_seconds(app.pid), cpu_seconds(others.pid)
            time.sleep(seconds)
            after = cpu_seconds(app.pid), cpu_seconds(others.pid)
            fps = (frames_painted(app, shown) - painted) / seconds
            return (after[0] - before[0]) / seconds, (after[1] - before[1]) / seconds, fps
        finally:
            for process in [app] + ([others] if others is not None else []):
                process.terminate()
                stop(process)


def frames_painted(app: subprocess.Popen[str], shown: Lines) -> int:
    """How many frames the app's tiles have painted so far (a CPU figure means little
    without the pictures it bought: a saturated app paints fewer)."""
    assert app.stdin is not None
    mark = shown.mark()
    app.stdin.write("frames\n")
    app.stdin.flush()
    return int(shown.wait_for("frames painted", 10, after=mark).split()[2])


def encode_cost(width: int, height: int, fps: int, frames: int = 90) -> float:
    """The share of a core aiortc's VP8 encoder takes for ``width``×``height`` at ``fps``
    (what a sender pays for one more layer)."""
    from aiortc.codecs.vpx import Vp8Encoder

    from desktop_app.media.synthetic import SyntheticVideoTrack

    async def pictures() -> list[object]:
        source = SyntheticVideoTrack(width, height, 1000)
        return [await source.recv() for _ in range(frames)]

    encoder = Vp8Encoder()
    made = asyncio.run(pictures())
    started = time.process_time()
    for frame in made:
        encoder.encode(frame)  # type: ignore[arg-type]
    return (time.process_time() - started) / frames * fps


def share(value: float) -> str:
    return f"{100 * value:5.1f} % of a core"


def bots_part(lan: janus.MediaLan, url: str, janus_pid: int, args: argparse.Namespace) -> None:
    print(f"bots: {args.height}p at 15 fps, CPU over {args.seconds:.0f} s")
    one = call_of(lan, None, 2, args.height, args.seconds)
    baseline = statistics.median(one[u] for u in ("p0", "p1"))
    print(f"1:1 peer to peer (baseline): {share(baseline)} per client")
    mesh = call_of(lan, None, 4, args.height, args.seconds)
    mesh4 = statistics.median(mesh[f"p{i}"] for i in range(4))
    through = call_of(lan, url, 4, args.height, args.seconds, janus_pid=janus_pid)
    sfu4 = statistics.median(through[f"p{i}"] for i in range(4))
    print(f"4 people, mesh: {share(mesh4)} per client ({mesh4 / baseline:.2f}× 1:1)")
    print(f"4 people, SFU:  {share(sfu4)} per client ({sfu4 / baseline:.2f}× 1:1, "
          f"{sfu4 / mesh4:.2f}× mesh)")  # fmt: skip
    forwarded = 4 * 3 * 2  # four publishers, three subscribers each, audio and video
    janus_share = through[f"pid{janus_pid}"]
    print(f"Janus, 4 people: {share(janus_share)} in all, "
          f"{100 * janus_share / forwarded:.2f} % of a core per forwarded stream")  # fmt: skip


def spread(values: list[float]) -> str:
    return f"{share(statistics.median(values))} ({100 * min(values):.0f}–{100 * max(values):.0f})"


def app_part(lan: janus.MediaLan, url: str, args: argparse.Namespace) -> None:
    print(f"the app (offscreen, painting), CPU over {args.seconds:.0f} s and the frames its "
          f"tiles painted a second, median of {args.rounds} rounds (min–max)")  # fmt: skip
    grid = 30 + 7 * GRID_LAYER[2]  # frames/s offered: our camera and seven grid layers
    cases = {  # name: (media server, pictures moving, the others, frames/s offered)
        "1:1 with a bot (baseline)": (None, 1, None, (), 2 * 30),
        f"8 people through the SFU, 7 cameras at {APP_SIZE[0]}x{APP_SIZE[1]}@{APP_SIZE[2]} "
        "and no grid layer": (url, 7, APP_SIZE, (), 8 * 30),
        "8 people, each camera with its grid layer (the app's small tiles take it)":
            (url, 7, APP_SIZE, ("--grid",), grid),
        "8 people with grid layers, one of them talking (the others muted: they send no "
        "sound)": (url, 7, APP_SIZE, ("--grid", "--talkers", "1"), grid),
        "8 people with grid layers, one talking, six silent with their microphones on (a "
        "packet every 0.4 s)": (url, 7, APP_SIZE, ("--grid", "--talkers", "1", "--silent"), grid),
        "the same, the others' grids showing the app small (they take its grid layer: its "
        "camera is paused)": (url, 7, APP_SIZE, ("--grid", "--talkers", "1", "--silent",
                                                 "--takes", "grid"), grid),
        "8 people with grid layers, everyone talking at once, the others showing the app "
        "small": (url, 7, APP_SIZE, ("--grid", "--takes", "grid"), grid),
    }  # fmt: skip
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, (server, tiles, crowd, crowd_args, _offered) in cases.items():
            runs[name].append(app_in_a_call(lan, server, args.seconds, tiles, crowd, *crowd_args))
    one = statistics.median(cpu for cpu, _, _ in runs[next(iter(cases))])
    for name, (*_, offered) in cases.items():
        cpus = [cpu for cpu, _, _ in runs[name]]
        fps = statistics.median(painted for _, _, painted in runs[name])
        print(f"the app, {name}: {spread(cpus)}, {statistics.median(cpus) / one:.2f}× 1:1; "
              f"painting {fps:.0f} of the {offered} frames/s offered")  # fmt: skip
    full, layered = (statistics.median(c for c, _, _ in runs[name]) for name in list(cases)[1:3])
    crowds = [others for _, others, _ in runs[list(cases)[1]]]
    print(f"the seven light publishers of the 8-person call: {spread(crowds)} in all")
    grid_encode = encode_cost(*GRID_LAYER)
    print(f"encoding the grid layer costs every sender {share(grid_encode)} (the app's own "
          f"is in the figures above); taking the others' saves a client of 8 "
          f"{share(full - layered)}")  # fmt: skip
    heard, paused = (statistics.median(c for c, _, _ in runs[name]) for name in list(cases)[-3:-1])
    print(f"encoding the camera's full picture costs every sender "
          f"{share(encode_cost(*APP_SIZE))}; pausing it while nobody takes it saved the app "
          f"{share(heard - paused)}")  # fmt: skip


def join_part(lan: janus.MediaLan, url: str, args: argparse.Namespace) -> None:
    joins = join_to_first_frame(lan, url, args.height, args.tries)
    raws = [asyncio.run(raw_path(url, args.height)) for _ in range(args.tries)]
    ours, raw = statistics.median(joins), statistics.median(raws)
    print(f"join → first remote frame through the SFU: {1000 * ours:.0f} ms "
          f"(min {1000 * min(joins):.0f}, max {1000 * max(joins):.0f}); raw aiortc → "
          f"Janus → aiortc: {1000 * raw:.0f} ms; ratio {ours / raw:.1f}×")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--tries", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=2, help="of the app's calls")
    parser.add_argument("--parts", default="bots,app,join", help="which: bots, app, join")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if not janus.available():
        raise SystemExit("needs root, ip, nft and janus")
    with janus.MediaLan() as lan, lan.janus(8188, "20000-29999") as sfu, lan.inside():
        print("parley bench_group")
        if "bots" in parts:
            bots_part(lan, sfu.url, sfu.process.pid, args)
        if "app" in parts:
            app_part(lan, sfu.url, args)
        if "join" in parts:
            join_part(lan, sfu.url, args)


if __name__ == "__main__":
    main()
