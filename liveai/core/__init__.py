"""The pure core: events, time, patterns, queues and the Markov model.

Nothing here imports sockets, threads, audio or torch.
"""
