# The interp agent: two drum loops at the corners of a learned latent space; the music walks between them.
#   liveai run examples/blend.py
# Try, while it plays:  blend.set('t', 0.2)       # nearer the first loop, from the next bar
#                       blend.set('walk', 0)      # stay put
#                       blend.sample(corner=1)    # a new second corner from the model
#                       blend.set('morph', 0)     # the raw latent decode instead of the staggered morph

tempo(104)

blend = interp('drums', name='blend')
blend.corners(
    stack(hits('x.......x.......', 'c2'), hits('....x.......x...', 'd2'), hits('x.x.x.x.x.x.x.x.', 'f#2')),
    stack(hits('x..x..x...x..x..', 'c2'), hits('....x..x....x...', 'd2'), hits('xxxxxxxxxxxxxxxx', 'f#2', vel=70)),
)
blend.set('t', 0.5)
blend.set('walk', 0.15)                                 # a random walk of 0.15 per bar between the corners
play('blend', blend)

play('bass', deg(0, None, 0, None, 3, None, 4, 2, step=0.5, scale='minor', root='e2', vel=92))
