"""A piano-roll picture (PNG, matplotlib) of who played what."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Callable, Iterable

from liveai.core.events import Note, Scheduled


def write_pianoroll(path: Path | str, events: Iterable[Scheduled], tempo_map: object = None,
                    label_of: Callable[[Scheduled], str] = lambda e: e.voice, title: str = "liveai") -> Path:
    """One colour per label; x in beats, y in MIDI pitch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars: dict[str, list[tuple[float, float, int, int]]] = defaultdict(list)
    for ev in events:
        if isinstance(ev.item, Note):
            bars[label_of(ev) or "liveai"].append((ev.beat, ev.item.duration, ev.item.pitch, ev.item.velocity))
    fig, ax = plt.subplots(figsize=(12, 5), dpi=100)
    colours = plt.get_cmap("tab10")
    for i, (label, notes) in enumerate(sorted(bars.items())):
        for beat, dur, pitch, vel in notes:
            ax.add_patch(plt.Rectangle((beat, pitch - 0.4), dur, 0.8, color=colours(i % 10),
                                       alpha=0.35 + 0.65 * vel / 127, linewidth=0))
        ax.plot([], [], color=colours(i % 10), linewidth=6, label=label)
    all_notes = [n for ns in bars.values() for n in ns]
    if all_notes:
        ax.set_xlim(min(n[0] for n in all_notes) - 0.5, max(n[0] + n[1] for n in all_notes) + 0.5)
        ax.set_ylim(min(n[2] for n in all_notes) - 2, max(n[2] for n in all_notes) + 2)
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel("beat")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title)
    ax.grid(True, axis="x", alpha=0.3)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
