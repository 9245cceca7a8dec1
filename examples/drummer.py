# The drums agent plays a quantized part like a drummer from the Groove MIDI Dataset.
#   liveai run examples/drummer.py
# Try, while it plays:  agents['drums'].set('amount', 0.3)     # less timing feel
#                       agents['drums'].set('feel', 4)         # another drummer's feel
#                       stop('drums'); play('machine', groove) # back to the grid, to compare

tempo(100)

groove = stack(
    hits('x.....x...x.....', 'c2', vel=110),                  # kick
    hits('....x.......x..x', 'd2'),                           # snare, a ghost at the end
    hits('x.x.x.x.x.x.x.x.', 'f#2', vel=80, accent=110),      # closed hat
)

play('drums', humanize(groove, feel='drummer1', amount=1.0, velocity_amount=1.0))
play('bass', deg(0, None, None, 0, None, 3, 4, None, step=0.5, scale='dorian', root='d2', vel=90))
