"""Torch models: modules, training loops, weights, evaluation. Imports nothing from I/O."""


def inference_threads() -> None:
    """Give torch one intra-op thread in a process that runs agents.

    Agents infer on tiny tensors, where a second intra-op thread only costs:
    on these 2-core machines GELU on 512 values takes 5.3 ms with two threads
    and 0.06 ms with one (torch 2.13.0+cpu), which pushed an offline interp
    decode (computed inline, inside its voice's 100 ms budget) to 60-90 ms.
    One thread also leaves the other core to the clock and the audio engine.
    Realtime workers set it too; this covers offline sessions and the prompt.
    """
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
