"""``parley-bot``: a headless participant built on the SDK with synthetic devices.

    PARLEY_BOT_TOKEN=… parley-bot --server http://127.0.0.1:3000 --user echo --answer accept --echo
    parley-bot --user helper --sign-up --join default:standup

It answers rings (``--answer accept|reject|busy|ignore``, after ``--answer-after`` seconds, as
a person takes a moment), joins one call by id (``--join``),
or rings people itself (``--ring alice,bob``; it joins when the first accepts).
``--no-camera`` and ``--no-microphone`` join with them off, ``--no-remote-video`` asks an SFU for
nobody's picture (a light extra in load tests); ``--height`` and ``--fps`` shape its test pattern. It prints ``receiving video from USER`` when a
participant's picture first arrives, and ``connected to USER: direct udp`` (or ``relayed
tcp`` …) when its peer connection comes up, and ``quality of USER: good|fair|poor|lost``
when a connection's quality changes; ``--report-video S`` adds ``video from USER: 29.8 fps,
640x480``, ``audio from USER: 50.0 frames/s`` and ``figures for USER|me: …`` every S
seconds (scripts and tests wait for those lines).
With ``--echo`` it sends back the video and audio it receives from the first other
participant (the desktop app's echo test call); otherwise it sends its test pattern and
tone — or, with ``--say FILE``, a recording in a loop, through a microphone "in a room"
that passes the audio processing stage like a real one (``--audio-processing
default|none|all|echo,noise,high-pass,gain`` picks its parts). It leaves a call when it has
been the last one in it for :data:`ALONE_SECONDS` (everyone rejoining at once after a media
server died leaves it alone for a moment), and runs until stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import os
import signal
import sys
from collections.abc import Sequence

import av
import httpx
import numpy as np
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from desktop_app.media.audio_processing import AudioProcessingSettings

from .call import Call
from .call_state import CallingState, ConnectionPath, Participant
from .client import VideoClient
from .devices import Device, SyntheticDevices
from .errors import ParleyError
from .options import ClientOptions

log = logging.getLogger("parley-bot")
#: How long the bot stays in a call once everyone else has gone.
ALONE_SECONDS = 5.0
#: Calling states the bot prints as they come (``default:x reconnecting``).
_ANNOUNCED_STATES = (
    CallingState.JOINED,
    CallingState.RECONNECTING,
    CallingState.RECONNECTING_FAILED,
    CallingState.LEFT,
)


class Bot:
    def __init__(
        self,
        client: VideoClient,
        answer: str,
        echo: bool,
        camera: bool = True,
        answer_after: float = 0.0,
        report_video: float = 0.0,
        remote_video: bool = True,
        microphone: bool = True,
        tile_height: int | None = None,
    ) -> None:
        self.client = client
        #: Shows everyone in tiles this tall (device pixels), as the app's grid does —
        #: small ones take the others' grid layer (None: sizes unknown, full pictures).
        self.tile_height = tile_height
        self.microphone = microphone
        #: Whether it asks for the others' video (through an SFU; a mesh sends it anyway).
        self.remote_video = remote_video
        #: Seconds between reports of each remote picture's frame rate (0: none).
        self.report_video = report_video
        self.answer = answer
        self.answer_after = answer_after
        self.echo = echo
        self.camera = camera
        #: The video track being read of each participant session (its arrival is said
        #: on stdout).
        self._seeing: dict[str, object] = {}
        #: The audio track being reported of each one (``--report-video``).
        self._hearing: dict[str, object] = {}
        #: The path and quality level announced for each participant session.
        self._paths: dict[str, ConnectionPath] = {}
        self._levels: dict[str, str] = {}
        self.relay = MediaRelay()
        self._handled: set[str] = set()
        #: Calls in which someone else has been with the bot (it leaves when they all go).
        self._company: set[str] = set()
        #: The leave that waits out ALONE_SECONDS, per call.
        self._leaving: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._echo_lock = asyncio.Lock()
        self._following: set[str] = set()

    def start(self) -> None:
        self.client.state.incoming_call.subscribe(self._rung, now=True)
        self.client.state.calls.subscribe(self._calls_changed, now=True)

    def _rung(self, call: Call | None) -> None:
        if call is not None and self.answer != "ignore":
            self._spawn(self._answer(call))

    async def _answer(self, call: Call) -> None:
        await asyncio.sleep(self.answer_after)
        if not call.is_ringing_me:
            return  # cancelled or over meanwhile
        print(f"parley-bot: answering {call.cid}: {self.answer}", flush=True)
        if self.answer == "accept":
            await self.join(call)
        else:
            await call.reject("busy" if self.answer == "busy" else "decline")

    def _calls_changed(self, calls: list[Call]) -> None:
        for call in calls:
            if call.cid not in self._handled:
                self._handled.add(call.cid)
                call.state.calling_state_.subscribe(
                    functools.partial(self._state_changed, call), now=True
                )

    def _state_changed(self, call: Call, state: CallingState) -> None:
        if state in _ANNOUNCED_STATES:
            print(f"parley-bot: {call.cid} {state.value}", flush=True)
        if state is CallingState.RECONNECTING_FAILED:
            self._spawn(self._announce_devices(call))
        if state is CallingState.JOINED and call.cid not in self._following:
            self._following.add(call.cid)  # once: a rejoin comes back to JOINED
            if self.report_video:
                self._spawn(self._report_figures(call))
            call.state.participants_.subscribe(functools.partial(self._participants_changed, call))
            if self.echo:
                # Every call event (a mute is one) brings a new ``call``: the echo follows.
                call.state.call_.subscribe(lambda _: self._follow_source(call))

    def _participants_changed(self, call: Call, participants: list[Participant]) -> None:
        others = [p for p in participants if not p.is_local]
        if self.tile_height is not None and self.remote_video:
            call.show_video_of(None, {p.session_id: self.tile_height for p in others})
        for other in others:
            # By track: a call that moves to (or from) the SFU hands over new ones.
            if other.video_track is not None and self._seeing.get(other.session_id) is not (
                other.video_track
            ):
                self._seeing[other.session_id] = other.video_track
                self._spawn(self._announce_video(other))
            if (
                self.report_video
                and other.audio_track is not None
                and self._hearing.get(other.session_id) is not other.audio_track
            ):
                self._hearing[other.session_id] = other.audio_track
                branch = self.relay.subscribe(other.audio_track)
                self._spawn(self._report_frames(other.user.id, branch, "audio"))
            path = other.connection_path
            if path is not None and self._paths.get(other.session_id) != path:
                self._paths[other.session_id] = path
                print(
                    f"parley-bot: connected to {other.user.id}: {path} "
                    f"(candidates {path.local_type} → {path.remote_type})",
                    flush=True,
                )
        for participant in participants:
            self._announce_quality(participant)
        if others:
            self._company.add(call.cid)
            waiting = self._leaving.pop(call.cid, None)
            if waiting is not None:
                waiting.cancel()  # someone is back
        elif (
            call.cid in self._company
            and call.state.calling_state is CallingState.JOINED
            and call.cid not in self._leaving
        ):
            self._leaving[call.cid] = asyncio.get_running_loop().call_later(
                ALONE_SECONDS, self._leave_if_alone, call
            )
        if self.echo:
            self._follow_source(call)

    def _leave_if_alone(self, call: Call) -> None:
        """Everyone else left (and nobody came back): the bot goes too — once its own
        rejoin, if one is under way, is over."""
        del self._leaving[call.cid]
        if [p for p in call.state.participants if not p.is_local]:
            return
        state = call.state.calling_state
        if state is CallingState.JOINED:
            self._company.discard(call.cid)
            self._spawn(call.leave())
        elif state in (CallingState.JOINING, CallingState.RECONNECTING):
            self._leaving[call.cid] = asyncio.get_running_loop().call_later(
                ALONE_SECONDS, self._leave_if_alone, call
            )

    def _follow_source(self, call: Call) -> None:
        """Echo what the first other participant sends, as they send it: their camera off
        turns the echo's camera off (the app shows an avatar, not a frozen picture), their
        mute mutes the echo, and both come back with them."""
        if call.state.calling_state is CallingState.JOINED:
            self._spawn(self._sync_echo(call))

    async def _sync_echo(self, call: Call) -> None:
        # One at a time, and judged again after every step: an "on" that arrives while
        # an "off" is being carried out must not be lost.
        async with self._echo_lock:
            while call.state.calling_state is CallingState.JOINED:
                others = [p for p in call.state.participants if not p.is_local]
                if not others:
                    return
                source = others[0]
                acted = False
                for manager, kind, track in (
                    (call.camera, "video", source.video_track),
                    (call.microphone, "audio", source.audio_track),
                ):
                    sending = source.published.get(kind) is not False
                    if sending and track is not None and manager.track.source is None:
                        manager.use_track(self.relay.subscribe(track))
                    elif not sending and manager.track.source is not None:
                        await manager.disable()
                        acted = True
                if not acted:
                    return

    def _announce_quality(self, participant: Participant) -> None:
        """Say when a connection's quality level changes (``quality of bob: poor (…)``;
        ``my uplink: …`` for our own)."""
        quality = participant.quality
        if quality is None or self._levels.get(participant.session_id) == quality.level:
            return
        level = self._levels[participant.session_id] = quality.level.value
        whose = "my uplink" if participant.is_local else f"quality of {participant.user.id}"
        print(f"parley-bot: {whose}: {level} ({quality.describe()})", flush=True)

    async def _announce_video(self, participant: Participant) -> None:
        """Say on stdout when someone's picture arrives (tests and scripts wait for it)."""
        branch = self.relay.subscribe(participant.video_track)
        try:
            await branch.recv()
            print(f"parley-bot: receiving video from {participant.user.id}", flush=True)
            if self.report_video:
                await self._report_frames(participant.user.id, branch, "video")
        except MediaStreamError:
            pass
        finally:
            branch.stop()

    async def _report_frames(self, user_id: str, branch: MediaStreamTrack, kind: str) -> None:
        """Every ``report_video`` seconds, what arrived from ``user_id``: ``video from bob:
        29.8 fps, 640x480``, or ``audio from bob: 50.0 frames/s`` (20 ms each; 0 while
        nothing comes)."""
        loop = asyncio.get_running_loop()
        frames, started, size = 0, loop.time(), "-"
        try:
            while True:
                left = self.report_video - (loop.time() - started)
                try:
                    frame = await asyncio.wait_for(branch.recv(), max(left, 0.01))
                    frames += 1
                    size = f"{getattr(frame, 'width', 0)}x{getattr(frame, 'height', 0)}"
                except TimeoutError:
                    pass
                now = loop.time()
                if now - started >= self.report_video:
                    rate = frames / (now - started)
                    said = f"{rate:.1f} fps, {size}" if kind == "video" else f"{rate:.1f} frames/s"
                    print(f"parley-bot: {kind} from {user_id}: {said}", flush=True)
                    frames, started = 0, now
        except MediaStreamError:
            pass
        finally:
            branch.stop()

    async def _report_figures(self, call: Call) -> None:
        """Every ``report_video`` seconds, each connection's figures (``figures for bob:
        …``, ``figures for me: …`` — our uplink) while the call goes on."""
        while call.state.calling_state in (CallingState.JOINED, CallingState.RECONNECTING):
            await asyncio.sleep(self.report_video)
            for participant in call.state.participants:
                if participant.quality is not None:
                    whose = "me" if participant.is_local else participant.user.id
                    said = participant.quality.describe()
                    print(f"parley-bot: figures for {whose}: {said}", flush=True)

    async def _announce_devices(self, call: Call) -> None:
        """After ``reconnecting-failed``: whether the camera and microphone were let go."""
        for _ in range(50):
            if not call.camera.enabled and not call.microphone.enabled:
                print("parley-bot: devices released", flush=True)
                return
            await asyncio.sleep(0.1)
        print("parley-bot: devices still open", flush=True)

    async def ring(self, user_ids: list[str]) -> Call:
        """Ring these users (the SDK joins by itself on the first accept)."""
        call = self.client.call("default", "")
        members = [{"user_id": self.client.user_id}] + [{"user_id": u} for u in user_ids]
        await call.get_or_create(data={"members": members}, ring=True)
        print(f"parley-bot: ringing {','.join(user_ids)} in {call.cid}", flush=True)
        return call

    async def join(self, call: Call) -> None:
        if not self.remote_video:
            call.show_video_of([])
        if not self.camera or self.echo:
            await call.camera.disable()
        if self.echo or not self.microphone:  # (echo: what it echoes takes their place)
            await call.microphone.disable()
        await call.join()
        if self.echo:
            self._follow_source(call)

    def _spawn(self, work: object) -> None:
        task = asyncio.get_running_loop().create_task(self._guard(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guard(work: object) -> None:
        try:
            await work  # type: ignore[misc]
        except ParleyError as error:
            log.warning("%s", error.message)


async def _token(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token)
    if os.environ.get("PARLEY_BOT_TOKEN"):
        return os.environ["PARLEY_BOT_TOKEN"]  # kept out of argv, where ps shows it
    if not args.sign_up:
        raise SystemExit(
            "parley-bot: give PARLEY_BOT_TOKEN (or --token), or --sign-up on a server with open sign-up"
        )
    async with httpx.AsyncClient(base_url=args.server) as http:
        response = await http.post(
            "/v1/auth/sign-up", json={"user_id": args.user, "name": args.name}
        )
    if response.status_code != 201:
        raise SystemExit(
            f"parley-bot: sign-up refused: {response.json().get('detail', response.text)}"
        )
    return str(response.json()["token"])


#: ``--audio-processing`` names → the settings' fields.
PROCESSING_PARTS = {
    "echo": "echo_cancellation",
    "noise": "noise_suppression",
    "high-pass": "high_pass_filter",
    "gain": "auto_gain_control",
}


def processing_settings(text: str) -> AudioProcessingSettings:
    """``default``, ``none``, ``all`` or a comma-separated list of parts."""
    if text == "default":
        return AudioProcessingSettings()
    if text == "none":
        return AudioProcessingSettings.none()
    names = set(PROCESSING_PARTS) if text == "all" else {p for p in text.split(",") if p}
    unknown = names - set(PROCESSING_PARTS)
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown parts {sorted(unknown)}: use {', '.join(PROCESSING_PARTS)}"
        )
    return AudioProcessingSettings(**{PROCESSING_PARTS[n]: n in names for n in PROCESSING_PARTS})


def recording(path: str) -> np.ndarray:
    """A sound file's samples as 48 kHz mono int16 (whatever its format)."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=48_000)
    chunks = []
    try:
        with av.open(path) as container:
            for frame in container.decode(audio=0):
                chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    except (av.FFmpegError, OSError, IndexError) as error:
        raise SystemExit(f"parley-bot: cannot read the sound file {path}: {error}") from None
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    if not chunks:
        raise SystemExit(f"parley-bot: the sound file {path} holds no sound")
    return np.concatenate(chunks)


def bot_devices(args: argparse.Namespace) -> SyntheticDevices:
    height = args.height
    devices = SyntheticDevices(
        width=height * 4 // 3, height=height, fps=args.fps, tone_hz=args.tone
    )
    if args.say:
        devices.unplug("synthetic-microphone")
        devices.plug(
            Device("recording", "Recording", "microphone", is_default=True, acoustic=True),
            sound=recording(args.say),
        )
    return devices


async def run(args: argparse.Namespace) -> None:
    client = VideoClient(
        {"id": args.user, "name": args.name},
        token=await _token(args),
        base_url=args.server,
        devices=bot_devices(args),
        options=ClientOptions(audio_processing=args.audio_processing),
    )
    await client.connect()
    bot = Bot(
        client,
        args.answer,
        args.echo,
        camera=not args.no_camera,
        answer_after=args.answer_after,
        report_video=args.report_video,
        remote_video=not args.no_remote_video,
        tile_height=args.tile_height,
        microphone=not args.no_microphone,
    )
    bot.start()
    if args.join:
        call_type, _, call_id = args.join.partition(":")
        await bot.join(client.call(call_type, call_id))
    print(f"parley-bot: {args.user} is ready", flush=True)
    if args.ring:
        await bot.ring([u for u in args.ring.split(",") if u])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await client.disconnect()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="parley-bot", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", default="http://127.0.0.1:3000")
    parser.add_argument("--user", default="bot", help="the bot's user id")
    parser.add_argument("--name", default="Parley bot")
    parser.add_argument(
        "--token", help="a user token for --user (better: the PARLEY_BOT_TOKEN variable)"
    )
    parser.add_argument("--sign-up", action="store_true", help="get a token through open sign-up")
    parser.add_argument(
        "--answer", choices=["accept", "reject", "busy", "ignore"], default="accept"
    )
    parser.add_argument(
        "--answer-after", type=float, default=0.0, help="seconds before answering a ring"
    )
    parser.add_argument("--join", metavar="TYPE:ID", help="join this call at start")
    parser.add_argument("--echo", action="store_true", help="send back what the others send")
    parser.add_argument("--ring", metavar="USER[,USER]", help="ring these users at start")
    parser.add_argument("--no-camera", action="store_true", help="join with the camera off")
    parser.add_argument(
        "--no-microphone", action="store_true", help="join with the microphone off"
    )
    parser.add_argument(
        "--no-remote-video",
        action="store_true",
        help="ask the SFU for nobody's video (a light extra participant for load tests)",
    )
    parser.add_argument(
        "--tone", type=float, default=440.0, help="the synthetic microphone's tone (Hz)"
    )
    parser.add_argument(
        "--height",
        type=int,
        default=480,
        choices=[120, 180, 240, 360, 480, 720],
        help="the test pattern's height in pixels (4:3; many bots on one machine: 120)",
    )
    parser.add_argument(
        "--fps", type=int, default=30, choices=range(1, 61), metavar="1-60",
        help="the test pattern's frames per second",
    )  # fmt: skip
    parser.add_argument("--say", metavar="FILE", help="send this recording as the microphone")
    parser.add_argument(
        "--audio-processing",
        type=processing_settings,
        default=AudioProcessingSettings(),
        metavar="PARTS",
        help="default, none, all, or some of echo,noise,high-pass,gain",
    )
    parser.add_argument(
        "--debug", action="store_true", help="log every step of the calls (the SDK's debug log)"
    )
    parser.add_argument(
        "--tile-height",
        type=int,
        metavar="PX",
        help="show everyone in tiles this tall, as the app's grid does (small: grid layers)",
    )
    parser.add_argument(
        "--report-video",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="print each remote picture's frame rate and size this often",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if args.debug:
        logging.getLogger("desktop_app").setLevel(logging.DEBUG)
        for handler in logging.getLogger().handlers:
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    try:
        asyncio.run(run(args))
    except ParleyError as error:
        print(f"parley-bot: {error.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
